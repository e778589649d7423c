package awssecrets_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

const (
	testAccessKeyID     = "AKIDLAUNCHKITTEST"
	testSecretAccessKey = "launchkit-test-secret-access-key"
)

// smRequest is the body of a GetSecretValue call as the fake server saw it.
type smRequest struct {
	SecretId     string `json:"SecretId"`
	VersionStage string `json:"VersionStage"`
	VersionId    string `json:"VersionId"`
	// Region is taken from the SigV4 credential scope, not the body.
	Region string `json:"-"`
}

// smResponse is what the fake server answers to one call. Status 0 means
// 200; a non-empty ErrType makes it an AWS JSON 1.1 error response; Raw, when
// set, is sent as the body verbatim (for malformed answers).
type smResponse struct {
	Status  int
	ErrType string
	Message string

	SecretString *string
	SecretBinary []byte
	Raw          string
}

// fakeSM is an httptest server that speaks just enough of the Secrets
// Manager JSON 1.1 protocol for GetSecretValue, and checks that every request
// is SigV4-signed with the test credentials.
type fakeSM struct {
	t   *testing.T
	srv *httptest.Server

	// respond decides the answer to the n-th call (counting from 1); ctx
	// is the HTTP request's context, done when the client hangs up.
	respond func(ctx context.Context, n int, req smRequest) smResponse

	mu       sync.Mutex
	requests []smRequest
}

func newFakeSM(t *testing.T, respond func(ctx context.Context, n int, req smRequest) smResponse) *fakeSM {
	t.Helper()
	f := &fakeSM{t: t, respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the endpoint to put in AWS_ENDPOINT_URL_SECRETS_MANAGER.
func (f *fakeSM) URL() string { return f.srv.URL }

// Requests returns a copy of the calls seen so far.
func (f *fakeSM) Requests() []smRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]smRequest(nil), f.requests...)
}

func (f *fakeSM) serveHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		t.Errorf("fake SM: got %s %s, want POST /", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
		t.Errorf("fake SM: X-Amz-Target = %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Errorf("fake SM: Content-Type = %q", got)
	}
	region := checkSigV4(t, r)

	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("fake SM: read body: %v", err)
		return
	}
	var req smRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("fake SM: body %q is not JSON: %v", body, err)
	}
	req.Region = region

	f.mu.Lock()
	f.requests = append(f.requests, req)
	n := len(f.requests)
	f.mu.Unlock()

	resp := f.respond(r.Context(), n, req)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "00000000-0000-4000-8000-000000000000")

	if resp.Raw != "" {
		if resp.Status != 0 {
			w.WriteHeader(resp.Status)
		}
		io.WriteString(w, resp.Raw)
		return
	}
	if resp.ErrType != "" {
		status := resp.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		w.Header().Set("X-Amzn-Errortype", resp.ErrType)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": resp.ErrType, "message": resp.Message})
		return
	}

	out := map[string]any{
		"ARN":           "arn:aws:secretsmanager:" + region + ":123456789012:secret:" + req.SecretId + "-AbCdEf",
		"Name":          req.SecretId,
		"VersionId":     "11111111-2222-3333-4444-555555555555",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   1700000000,
	}
	if req.VersionId != "" {
		out["VersionId"] = req.VersionId
	}
	if req.VersionStage != "" {
		out["VersionStages"] = []string{req.VersionStage}
	}
	if resp.SecretString != nil {
		out["SecretString"] = *resp.SecretString
	}
	if resp.SecretBinary != nil {
		out["SecretBinary"] = base64.StdEncoding.EncodeToString(resp.SecretBinary)
	}
	if resp.Status != 0 {
		w.WriteHeader(resp.Status)
	}
	json.NewEncoder(w).Encode(out)
}

// checkSigV4 asserts r carries a SigV4 signature made with the test access
// key for the secretsmanager service, and returns the credential scope's
// region.
func checkSigV4(t *testing.T, r *http.Request) string {
	auth := r.Header.Get("Authorization")
	prefix := "AWS4-HMAC-SHA256 Credential=" + testAccessKeyID + "/"
	if !strings.HasPrefix(auth, prefix) {
		t.Errorf("fake SM: Authorization %q does not start with %q", auth, prefix)
		return ""
	}
	for _, want := range []string{"/secretsmanager/aws4_request", "SignedHeaders=", "Signature="} {
		if !strings.Contains(auth, want) {
			t.Errorf("fake SM: Authorization %q lacks %q", auth, want)
		}
	}
	if r.Header.Get("X-Amz-Date") == "" {
		t.Errorf("fake SM: no X-Amz-Date header")
	}
	// Credential=AKID/DATE/REGION/secretsmanager/aws4_request, ...
	scope := strings.TrimPrefix(auth, prefix)
	if i := strings.IndexByte(scope, ','); i >= 0 {
		scope = scope[:i]
	}
	parts := strings.Split(scope, "/")
	if len(parts) != 4 {
		t.Errorf("fake SM: odd credential scope %q", scope)
		return ""
	}
	return parts[1]
}

// isolateAWS clears every AWS_* variable inherited from the machine and
// points the SDK's files at nothing, so that only what a test sets counts
// and nothing reaches the instance metadata service.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			unsetenv(t, k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/no-such-config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/no-such-credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// useFakeSM isolates the SDK and points it at srv with test credentials.
// region, when not empty, is put in AWS_REGION.
func useFakeSM(t *testing.T, srv *fakeSM, region string) {
	t.Helper()
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretAccessKey)
	if region != "" {
		t.Setenv("AWS_REGION", region)
	}
}

// unsetenv removes k for the rest of the test and restores it afterwards.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "") // registers the restore
	os.Unsetenv(k)
}
