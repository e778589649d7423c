package storage

import (
	"context"
	"errors"
)

// S3Options are where an S3 store keeps its objects.
type S3Options struct {
	Bucket   string
	Region   string // empty: the SDK's chain, or us-east-1 with Endpoint
	Endpoint string // an S3-compatible store, addressed path-style
	Prefix   string // every key is stored under it
}

// NewS3 opens the bucket of o. (Being built.)
func NewS3(ctx context.Context, o S3Options) (Store, error) {
	return nil, errors.New("storage: the s3 backend is not built yet")
}
