package storage

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/config"
)

// Option changes how Open builds a store.
type Option func(*S3Options)

// WithTracerProvider puts each request of an S3 store in a client span
// of tp's (a Local store has no client to trace).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *S3Options) { o.TracerProvider = tp }
}

// Open opens the store STORAGE_BACKEND names: Local on STORAGE_DIR, or
// S3 on S3_BUCKET.
func Open(ctx context.Context, cfg *config.Config, opts ...Option) (Store, error) {
	switch cfg.StorageBackend {
	case "local", "":
		return NewLocal(cfg.StorageDir)
	case "s3":
		o := S3Options{Bucket: cfg.S3Bucket, Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, Prefix: cfg.S3Prefix}
		for _, opt := range opts {
			opt(&o)
		}
		s, err := NewS3(ctx, o)
		if err != nil {
			return nil, err // not a nil *S3 in a non-nil Store
		}
		return s, nil
	}
	return nil, fmt.Errorf("%w: %q", errNoStore, cfg.StorageBackend)
}
