package testenv

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an S3 endpoint on loopback (gofakes3, kept in memory) with one
// empty bucket, for the real AWS SDK to talk to: the S3 storage backend
// of in-process tests, and of web and worker binaries a test starts.
type S3 struct {
	// Endpoint is the base URL (S3_ENDPOINT), http://127.0.0.1:port.
	Endpoint string
	// Bucket is the bucket made for the test (S3_BUCKET).
	Bucket string
	// Region is the region the SDK signs for (S3_REGION).
	Region string

	clock *offsetClock
	home  string
}

// StartS3 starts an S3 endpoint with a bucket, stopped when the test
// ends. The fake accepts any signature; the credentials of Env are
// dummies so the SDK signs requests at all.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	clock := &offsetClock{}
	backend := s3mem.New(s3mem.WithTimeSource(clock))
	const bucket = "launchkit-test"
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("fake S3: create bucket: %v", err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return &S3{Endpoint: srv.URL, Bucket: bucket, Region: "us-east-1", clock: clock, home: t.TempDir()}
}

// Env is the environment of a process using the endpoint as its store:
// STORAGE_BACKEND=s3 and the S3_* keys, dummy AWS credentials, and no
// shared AWS files nor instance metadata service, so the SDK's chain
// never looks beyond the test.
func (s *S3) Env() []string {
	return []string{
		"STORAGE_BACKEND=s3",
		"S3_BUCKET=" + s.Bucket,
		"S3_ENDPOINT=" + s.Endpoint,
		"S3_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=AKIDTEST",
		"AWS_SECRET_ACCESS_KEY=test-secret-access-key",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + s.home + "/config",
		"AWS_SHARED_CREDENTIALS_FILE=" + s.home + "/credentials",
	}
}

// Setenv sets Env in this test process (so the test cannot be parallel),
// for the AWS SDK's default chain to find the credentials.
func (s *S3) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Backdate makes the objects put from now on look d older (their
// LastModified), so a test can check what a sweep does with old objects
// without waiting.
func (s *S3) Backdate(d time.Duration) { s.clock.set(-d) }

// offsetClock is the bucket's clock: the real time moved by an offset.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// Now is in GMT, as S3 answers.
func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).In(time.FixedZone("GMT", 0))
}

func (c *offsetClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
