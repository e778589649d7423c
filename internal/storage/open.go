package storage

import (
	"context"
	"fmt"

	"github.com/launchkit/launchkit/internal/config"
)

// Open opens the store STORAGE_BACKEND names: Local on STORAGE_DIR, or
// S3 on S3_BUCKET.
func Open(ctx context.Context, cfg *config.Config) (Store, error) {
	switch cfg.StorageBackend {
	case "local", "":
		return NewLocal(cfg.StorageDir)
	case "s3":
		s, err := NewS3(ctx, S3Options{
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, Prefix: cfg.S3Prefix,
		})
		if err != nil {
			return nil, err // not a nil *S3 in a non-nil Store
		}
		return s, nil
	}
	return nil, fmt.Errorf("%w: %q", errNoStore, cfg.StorageBackend)
}
