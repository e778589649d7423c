package awssecrets_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/launchkit/launchkit/internal/awssecrets"
	"github.com/launchkit/launchkit/internal/config"
)

const (
	testSecretName = "launchkit/test"
	// leakMarker is part of every secret value the fake server hands out,
	// and must never show up in an error.
	leakMarker = "hunter2-do-not-leak"
)

var (
	jsonSecret = `{"SECRET_KEY":"` + leakMarker + `","DATABASE_URL":"postgres://app:pw@db:5432/app","REDIS_URL":"redis://cache:6379/0"}`
	yamlSecret = "SECRET_KEY: " + leakMarker + "\nDATABASE_URL: postgres://app:pw@db:5432/app\nREDIS_URL: redis://cache:6379/0\n"
)

// quickRetries keeps the SDK's retry logic (which errors are retried, how
// many attempts) but drops the back-off sleeps, so retry tests run fast.
func quickRetries() func(*awsconfig.LoadOptions) error {
	return awsconfig.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
				return time.Millisecond, nil
			})
		})
	})
}

func fetch(t *testing.T, f *awssecrets.Fetcher, req config.SecretRequest) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f.FetchSecret(ctx, req)
}

// assertErr checks err matches want, is the only one of the package's
// sentinels it matches, starts with want's text, and quotes neither the
// secret's value nor its name.
func assertErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not match %v", err, want)
	}
	for _, other := range []error{
		awssecrets.ErrNotFound, awssecrets.ErrAccessDenied, awssecrets.ErrDecryption,
		awssecrets.ErrTimeout, awssecrets.ErrNoRegion, awssecrets.ErrNoCredentials,
		awssecrets.ErrInvalidConfig, awssecrets.ErrUnreachable, awssecrets.ErrMalformedResponse,
		awssecrets.ErrNoValue, awssecrets.ErrRequestFailed,
	} {
		if other != want && errors.Is(err, other) {
			t.Errorf("error %q matches %v as well as %v", err, other, want)
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, want.Error()) {
		t.Errorf("error %q does not start with %q", msg, want.Error())
	}
	if strings.Contains(msg, leakMarker) {
		t.Errorf("error %q quotes the secret's value", msg)
	}
	if strings.Contains(msg, testSecretName) {
		t.Errorf("error %q names the secret (the caller does that)", msg)
	}
}

func TestFetchSecretPayloads(t *testing.T) {
	binary := append([]byte{0x00, 0xff, 0xfe}, []byte(jsonSecret)...)
	tests := []struct {
		name string
		resp smResponse
		want []byte
	}{
		{"json SecretString", smResponse{SecretString: aws.String(jsonSecret)}, []byte(jsonSecret)},
		{"yaml SecretString", smResponse{SecretString: aws.String(yamlSecret)}, []byte(yamlSecret)},
		{"SecretBinary", smResponse{SecretBinary: binary}, binary},
		{"SecretString wins over SecretBinary", smResponse{SecretString: aws.String(jsonSecret), SecretBinary: []byte("other")}, []byte(jsonSecret)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse { return tc.resp })
			useFakeSM(t, srv, "us-east-2")

			got, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
			if err != nil {
				t.Fatalf("FetchSecret: %v", err)
			}
			if string(got) != string(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			want := smRequest{SecretId: testSecretName, VersionStage: "AWSCURRENT", Region: "us-east-2"}
			if reqs[0] != want {
				t.Errorf("request %+v, want %+v", reqs[0], want)
			}
		})
	}
}

func TestFetchSecretVersionSelection(t *testing.T) {
	const id = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
	tests := []struct {
		name      string
		stage, id string
		wantStage string
		wantVerID string
	}{
		{name: "default stage", wantStage: "AWSCURRENT"},
		{name: "stage", stage: "AWSPREVIOUS", wantStage: "AWSPREVIOUS"},
		{name: "custom stage", stage: "blue", wantStage: "blue"},
		{name: "version id", id: id, wantVerID: id},
		{name: "version id wins over stage", stage: "AWSPREVIOUS", id: id, wantVerID: id},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
				return smResponse{SecretString: aws.String(jsonSecret)}
			})
			useFakeSM(t, srv, "us-east-1")

			var f awssecrets.Fetcher // the zero value works
			got, err := fetch(t, &f, config.SecretRequest{Name: testSecretName, VersionStage: tc.stage, VersionID: tc.id})
			if err != nil {
				t.Fatalf("FetchSecret: %v", err)
			}
			if string(got) != jsonSecret {
				t.Errorf("got %q", got)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			if reqs[0].VersionStage != tc.wantStage || reqs[0].VersionId != tc.wantVerID {
				t.Errorf("sent VersionStage=%q VersionId=%q, want %q and %q",
					reqs[0].VersionStage, reqs[0].VersionId, tc.wantStage, tc.wantVerID)
			}
		})
	}
}

func TestFetchSecretRegion(t *testing.T) {
	ok := func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	}
	t.Run("request region beats AWS_REGION", func(t *testing.T) {
		srv := newFakeSM(t, ok)
		useFakeSM(t, srv, "us-east-1")
		if _, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName, Region: "eu-west-1"}); err != nil {
			t.Fatalf("FetchSecret: %v", err)
		}
		if got := srv.Requests()[0].Region; got != "eu-west-1" {
			t.Errorf("signed for region %q, want eu-west-1", got)
		}
	})
	t.Run("AWS_DEFAULT_REGION", func(t *testing.T) {
		srv := newFakeSM(t, ok)
		useFakeSM(t, srv, "")
		t.Setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
		if _, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName}); err != nil {
			t.Fatalf("FetchSecret: %v", err)
		}
		if got := srv.Requests()[0].Region; got != "ap-southeast-2" {
			t.Errorf("signed for region %q, want ap-southeast-2", got)
		}
	})
	t.Run("shared config profile", func(t *testing.T) {
		srv := newFakeSM(t, ok)
		isolateAWS(t)
		dir := t.TempDir()
		cfgFile := filepath.Join(dir, "config")
		credFile := filepath.Join(dir, "credentials")
		writeFile(t, cfgFile, "[profile launchkit]\nregion = ca-central-1\n")
		writeFile(t, credFile, "[launchkit]\naws_access_key_id = "+testAccessKeyID+"\naws_secret_access_key = "+testSecretAccessKey+"\n")
		t.Setenv("AWS_CONFIG_FILE", cfgFile)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
		t.Setenv("AWS_PROFILE", "launchkit")
		t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL())

		if _, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName}); err != nil {
			t.Fatalf("FetchSecret: %v", err)
		}
		if got := srv.Requests()[0].Region; got != "ca-central-1" {
			t.Errorf("signed for region %q, want ca-central-1", got)
		}
	})
}

func TestFetchSecretAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		errType  string
		message  string
		want     error
		contains []string
	}{
		{
			name: "not found", errType: "ResourceNotFoundException",
			message:  "Secrets Manager can't find the specified secret.",
			want:     awssecrets.ErrNotFound,
			contains: []string{"not found: Secrets Manager can't find the specified secret. (ResourceNotFoundException)"},
		},
		{
			name: "access denied", errType: "AccessDeniedException",
			message:  "User: arn:aws:sts::123456789012:assumed-role/app/task is not authorized to perform: secretsmanager:GetSecretValue",
			want:     awssecrets.ErrAccessDenied,
			contains: []string{"access denied: User: arn:aws:sts::123456789012:assumed-role/app/task", "(AccessDeniedException)"},
		},
		{
			name: "unrecognized client", errType: "UnrecognizedClientException",
			message:  "The security token included in the request is invalid.",
			want:     awssecrets.ErrAccessDenied,
			contains: []string{"access denied: invalid credentials", "UnrecognizedClientException"},
		},
		{
			name: "decryption failure", errType: "DecryptionFailure",
			message:  "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
			want:     awssecrets.ErrDecryption,
			contains: []string{"decryption failure: ", "(DecryptionFailure)", "kms:Decrypt"},
		},
		{
			name: "other client error", errType: "InvalidRequestException",
			message:  "You can't perform this operation on the secret because it was marked for deletion.",
			want:     awssecrets.ErrRequestFailed,
			contains: []string{"request failed: InvalidRequestException: You can't perform this operation"},
		},
		{
			name: "not found, without a message", errType: "ResourceNotFoundException",
			want:     awssecrets.ErrNotFound,
			contains: []string{"not found: ResourceNotFoundException"},
		},
		{
			name: "other client error, without a message", errType: "InvalidParameterException",
			want:     awssecrets.ErrRequestFailed,
			contains: []string{"request failed: InvalidParameterException"},
		},
		{
			name: "namespaced error type", errType: "com.amazonaws.secretsmanager#ResourceNotFoundException",
			message:  "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
			want:     awssecrets.ErrNotFound,
			contains: []string{"not found: ", "staging label: AWSPENDING"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
				return smResponse{ErrType: tc.errType, Message: tc.message}
			})
			useFakeSM(t, srv, "us-east-1")

			got, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
			if got != nil {
				t.Errorf("got payload %q with an error", got)
			}
			assertErr(t, err, tc.want)
			t.Logf("error: %v", err)
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("server saw %d requests, want 1 (client errors are not retried)", n)
			}
		})
	}
}

func TestFetchSecretThrottling(t *testing.T) {
	t.Run("retries then succeeds", func(t *testing.T) {
		const throttled = 2
		srv := newFakeSM(t, func(_ context.Context, n int, _ smRequest) smResponse {
			if n <= throttled {
				return smResponse{ErrType: "ThrottlingException", Message: "Rate exceeded"}
			}
			return smResponse{SecretString: aws.String(jsonSecret)}
		})
		useFakeSM(t, srv, "us-east-1")

		f := &awssecrets.Fetcher{LoadOptions: []func(*awsconfig.LoadOptions) error{quickRetries()}}
		got, err := fetch(t, f, config.SecretRequest{Name: testSecretName})
		if err != nil {
			t.Fatalf("FetchSecret: %v", err)
		}
		if string(got) != jsonSecret {
			t.Errorf("got %q", got)
		}
		if n := len(srv.Requests()); n != throttled+1 {
			t.Errorf("server saw %d requests, want %d", n, throttled+1)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
			return smResponse{ErrType: "ThrottlingException", Message: "Rate exceeded"}
		})
		useFakeSM(t, srv, "us-east-1")

		f := &awssecrets.Fetcher{LoadOptions: []func(*awsconfig.LoadOptions) error{quickRetries()}}
		_, err := fetch(t, f, config.SecretRequest{Name: testSecretName})
		assertErr(t, err, awssecrets.ErrRequestFailed)
		t.Logf("error: %v", err)
		if !strings.Contains(err.Error(), "ThrottlingException: Rate exceeded") {
			t.Errorf("error %q lacks the throttling code and message", err)
		}
		if n := len(srv.Requests()); n != retry.DefaultMaxAttempts {
			t.Errorf("server saw %d requests, want %d", n, retry.DefaultMaxAttempts)
		}
	})
}

func TestFetchSecretSlowEndpoint(t *testing.T) {
	release := make(chan struct{})
	srv := newFakeSM(t, func(ctx context.Context, _ int, _ smRequest) smResponse {
		// Hang until the client gives up or the test ends.
		select {
		case <-ctx.Done():
		case <-release:
		}
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	useFakeSM(t, srv, "us-east-1")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	got, err := awssecrets.New().FetchSecret(ctx, config.SecretRequest{Name: testSecretName})
	elapsed := time.Since(start)

	if got != nil {
		t.Errorf("got payload %q", got)
	}
	assertErr(t, err, awssecrets.ErrTimeout)
	t.Logf("error: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("FetchSecret took %v with a 300ms deadline", elapsed)
	}
}

func TestFetchSecretContextAlreadyDone(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "us-east-1")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := awssecrets.New().FetchSecret(ctx, config.SecretRequest{Name: testSecretName})
	assertErr(t, err, awssecrets.ErrTimeout)
	t.Logf("error: %v", err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q does not wrap context.Canceled", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestFetchSecretNoRegion(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "")
	unsetenv(t, "AWS_REGION")
	unsetenv(t, "AWS_DEFAULT_REGION")

	_, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
	assertErr(t, err, awssecrets.ErrNoRegion)
	t.Logf("error: %v", err)
	if got, want := err.Error(), "no AWS region: set AWS_SECRETS_REGION or AWS_REGION"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestFetchSecretNoCredentials(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "us-east-1")
	unsetenv(t, "AWS_ACCESS_KEY_ID")
	unsetenv(t, "AWS_SECRET_ACCESS_KEY")

	_, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
	assertErr(t, err, awssecrets.ErrNoCredentials)
	t.Logf("error: %v", err)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestFetchSecretMissingProfile(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "us-east-1")
	t.Setenv("AWS_PROFILE", "no-such-profile")

	_, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
	assertErr(t, err, awssecrets.ErrInvalidConfig)
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "no-such-profile") {
		t.Errorf("error %q does not name the missing profile", err)
	}
}

func TestFetchSecretConnectionRefused(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://"+closedAddr(t))
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")

	_, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
	assertErr(t, err, awssecrets.ErrUnreachable)
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not say the connection was refused", err)
	}
}

func TestFetchSecretBadResponses(t *testing.T) {
	tests := []struct {
		name string
		resp smResponse
		want error
	}{
		{"truncated json", smResponse{Raw: `{"Name":"x","SecretString":"` + leakMarker + `","VersionId":`}, awssecrets.ErrMalformedResponse},
		{"not json", smResponse{Raw: `<html>` + leakMarker + `</html>`}, awssecrets.ErrMalformedResponse},
		{"SecretString of the wrong type", smResponse{Raw: `{"SecretString":{"SECRET_KEY":"` + leakMarker + `"}}`}, awssecrets.ErrMalformedResponse},
		{"SecretBinary not base64", smResponse{Raw: `{"SecretBinary":"` + leakMarker + `!!"}`}, awssecrets.ErrMalformedResponse},
		{"error with a garbage body", smResponse{Status: 500, Raw: `oops ` + leakMarker}, awssecrets.ErrMalformedResponse},
		{"no value", smResponse{Raw: `{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:x","Name":"x"}`}, awssecrets.ErrNoValue},
		{"blank body", smResponse{Raw: ` `}, awssecrets.ErrMalformedResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse { return tc.resp })
			useFakeSM(t, srv, "us-east-1")

			f := &awssecrets.Fetcher{LoadOptions: []func(*awsconfig.LoadOptions) error{quickRetries()}}
			got, err := fetch(t, f, config.SecretRequest{Name: testSecretName})
			if got != nil {
				t.Errorf("got payload %q", got)
			}
			assertErr(t, err, tc.want)
			t.Logf("error: %v", err)
		})
	}
}

func TestFetchSecretNoName(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "us-east-1")

	_, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: "  "})
	assertErr(t, err, awssecrets.ErrRequestFailed)
	t.Logf("error: %v", err)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newFakeIMDS serves the two IMDSv2 calls the region look-up makes: a PUT
// for a session token, then the instance identity document, which must be
// asked for with that token. With region "" the document is not found.
func newFakeIMDS(t *testing.T, region string) *httptest.Server {
	t.Helper()
	const token = "imdsv2-test-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
				t.Errorf("fake IMDS: token request without a TTL header")
			}
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			io.WriteString(w, token)
		case r.Method == http.MethodGet && r.URL.Path == "/latest/dynamic/instance-identity/document":
			if got := r.Header.Get("X-Aws-Ec2-Metadata-Token"); got != token {
				t.Errorf("fake IMDS: identity document asked for with token %q (IMDSv1?)", got)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if region == "" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"accountId":"123456789012","instanceId":"i-0123456789abcdef0","region":"`+region+`","availabilityZone":"`+region+`a"}`)
		default:
			t.Errorf("fake IMDS: unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchSecretRegionFromIMDS(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "")
	imdsSrv := newFakeIMDS(t, "eu-north-1")
	unsetenv(t, "AWS_EC2_METADATA_DISABLED")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imdsSrv.URL)

	got, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
	if err != nil {
		t.Fatalf("FetchSecret: %v", err)
	}
	if string(got) != jsonSecret {
		t.Errorf("got %q", got)
	}
	if got := srv.Requests()[0].Region; got != "eu-north-1" {
		t.Errorf("signed for region %q, want eu-north-1 from instance metadata", got)
	}
}

func TestFetchSecretNoRegionIMDSWithoutAnswer(t *testing.T) {
	srv := newFakeSM(t, func(context.Context, int, smRequest) smResponse {
		return smResponse{SecretString: aws.String(jsonSecret)}
	})
	useFakeSM(t, srv, "")
	// An instance metadata service without an identity document: the
	// region chain runs to its end and finds no region.
	imdsSrv := newFakeIMDS(t, "")
	unsetenv(t, "AWS_EC2_METADATA_DISABLED")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imdsSrv.URL)

	_, err := fetch(t, awssecrets.New(), config.SecretRequest{Name: testSecretName})
	assertErr(t, err, awssecrets.ErrNoRegion)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// closedAddr returns a loopback address that was just listening and now is
// not, so connecting to it is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
