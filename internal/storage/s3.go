package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	//lint:ignore SA1019 otelaws is deprecated in favour of the SDK's own tracing (smithy-go's smithyoteltracing adapter), which does not resolve from this project's module proxy yet; otelaws still works with this SDK.
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// S3Options are where an S3 store keeps its objects.
type S3Options struct {
	Bucket   string
	Region   string // empty: the SDK's chain, or us-east-1 with Endpoint
	Endpoint string // an S3-compatible store, addressed path-style
	Prefix   string // every key is stored under it
	// TracerProvider, when set, puts each request to the store in a
	// client span of its (operation, bucket, key, status); nil: none.
	TracerProvider trace.TracerProvider
}

// S3 keeps objects in a bucket of Amazon S3 or of an S3-compatible store
// (MinIO, Cloudflare R2, Backblaze B2), so every web and worker process
// of an app sees the same files. Credentials come from the AWS SDK's
// default chain (environment, shared files, web identity, container or
// instance role) and are looked up on the first request, not by NewS3.
// Browsers fetch objects directly from the bucket through presigned URLs
// (URL), which carry the headers Serve would have sent.
type S3 struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string
}

// defaultEndpointRegion is the region of an S3-compatible store when
// neither S3_REGION nor the SDK's chain gives one: such stores mostly
// ignore it, but SigV4 signatures need some region.
const defaultEndpointRegion = "us-east-1"

// NewS3 makes the client of o's bucket. It does not reach the network
// (Check does), so a web process starts even while the store is away.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, errors.New("storage: s3: no bucket (S3_BUCKET)")
	}
	if o.Endpoint != "" {
		// Checked again here, not only by config, because an endpoint
		// with user info would print a password in every SDK error.
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(o.Endpoint, "@") {
			return nil, errors.New("storage: s3: the endpoint (S3_ENDPOINT) is not a URL like https://minio.example.com:9000")
		}
	}
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: s3: load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if o.Endpoint == "" {
			return nil, errors.New("storage: s3: no region: set S3_REGION or AWS_REGION")
		}
		cfg.Region = defaultEndpointRegion
	}
	at := func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// Path-style (endpoint/bucket/key): S3-compatible stores
			// rarely have a DNS name for every bucket.
			so.UsePathStyle = true
			// Checksums only where S3 requires them: not every
			// S3-compatible store accepts the SDK's default CRC32 headers
			// and trailers.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}
	untraced := s3.NewFromConfig(cfg, at)
	client := untraced
	if o.TracerProvider != nil {
		client = s3.NewFromConfig(cfg, at, traced(o.TracerProvider))
	}
	return &S3{
		client: client,
		// Presigning is computed here, without a request: it has
		// nothing to trace, and a span per URL would look like a fetch.
		presign: s3.NewPresignClient(untraced, s3.WithPresignExpires(URLLifetime)),
		bucket:  o.Bucket,
		prefix:  cleanPrefix(o.Prefix),
	}, nil
}

// traced adds otelaws's middleware to a client's requests. The trace is
// not sent along: the store keeps none of it, and a header added after
// the request is signed is one a strict S3-compatible store might refuse.
func traced(tp trace.TracerProvider) func(*s3.Options) {
	return func(so *s3.Options) {
		otelaws.AppendMiddlewares(&so.APIOptions,
			otelaws.WithTracerProvider(tp),
			otelaws.WithTextMapPropagator(propagation.NewCompositeTextMapPropagator()),
		)
	}
}

// cleanPrefix ends a non-empty prefix with a slash, so "app" keeps its
// objects under app/ and List never reports (nor Sweep deletes) the
// objects of another app under app2/.
func cleanPrefix(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// Backend is "s3".
func (s *S3) Backend() string { return "s3" }

// Check asks the bucket whether it is there and may be read with the
// credentials at hand (HeadBucket): for a readiness probe or a manage
// command, since NewS3 does not reach the network.
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("storage: s3: bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put uploads body in one PutObject request of size bytes, read straight
// from body (never held in memory). The object's Content-Type is the one
// its key stands for (TypeOfKey), as Local reports it, so both backends
// agree and no object can claim to be a type the key does not say. A
// body whose length is not size is refused before anything is sent.
func (s *S3) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, _ string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkLength(body, size); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(TypeOfKey(key)),
	})
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return nil
}

// checkLength reports whether body holds exactly size bytes from where
// it stands, and leaves it there. S3 stores what it is sent whole, so a
// body shorter or longer than announced must not be sent at all: the
// HTTP client would notice only once the bytes were on the wire.
func checkLength(body io.Seeker, size int64) error {
	at, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	end, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if _, err := body.Seek(at, io.SeekStart); err != nil {
		return err
	}
	if n := end - at; n != size {
		return fmt.Errorf("%d bytes where %d were announced", n, size)
	}
	return nil
}

// Open gets the object of key.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	if !ValidKey(key) {
		return nil, Object{}, ErrNotFound
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if notFound(err) {
			return nil, Object{}, ErrNotFound
		}
		return nil, Object{}, fmt.Errorf("storage: open %s: %w", key, err)
	}
	obj := Object{Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: TypeOfKey(key)}
	if out.LastModified != nil {
		obj.Modified = out.LastModified.UTC()
	}
	return out.Body, obj, nil
}

// notFound reports whether err is S3's answer for a key with no object:
// NoSuchKey, or a bare 404 (HEAD requests and some S3-compatible stores
// say no more).
func notFound(err error) bool {
	var noKey *s3types.NoSuchKey
	var resp *awshttp.ResponseError
	return errors.As(err, &noKey) || (errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusNotFound)
}

// Delete deletes the object of key; S3 answers a key with no object as
// it does one it deleted.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil && !notFound(err) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

// List pages through the objects under the prefix, reporting their keys
// without it. An object whose key this package could not have made (put
// there by something else) is left out, so Sweep never touches it.
func (s *S3) List(ctx context.Context, fn func(Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
	if s.prefix != "" {
		in.Prefix = aws.String(s.prefix)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("storage: list: %w", err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || !ValidKey(key) {
				continue
			}
			obj := Object{Key: key, Size: aws.ToInt64(o.Size), ContentType: TypeOfKey(key)}
			if o.LastModified != nil {
				obj.Modified = o.LastModified.UTC()
			}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// URL presigns a GET of key, valid for URLLifetime, asking the bucket to
// answer it with the Content-Type of the key and the Content-Disposition
// Serve would have sent (the bucket cannot add nosniff or the sandboxing
// CSP; the disposition and a type that is never HTML are what keep an
// upload from running as a page). Presigning is done here, without the
// network, so it does not tell whether the object exists.
func (s *S3) URL(ctx context.Context, key string, d Download) (string, error) {
	if !ValidKey(key) {
		return "", ErrNotFound
	}
	ct := TypeOfKey(key)
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     aws.String(s.bucket),
		Key:                        aws.String(s.prefix + key),
		ResponseContentType:        aws.String(ct),
		ResponseContentDisposition: aws.String(Disposition(key, ct, d)),
	})
	if err != nil {
		return "", fmt.Errorf("storage: presign %s: %w", key, err)
	}
	return req.URL, nil
}
