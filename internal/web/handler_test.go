package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/logging"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// answer is what respond wrote for one error.
type answer struct {
	status int
	header http.Header
	body   string
}

// respondTo has a handler that fails with err answer a request for path
// whose context is ctx, carrying request ID "req-test-0001", and returns
// the answer and what the server logged.
func respondTo(t *testing.T, ctx context.Context, path string, err error) (answer, string) {
	t.Helper()
	a, logs := testenv.NewApp(t, nil)
	s, nerr := newServer(a)
	if nerr != nil {
		t.Fatal(nerr)
	}
	h := s.handle(func(http.ResponseWriter, *http.Request) error { return err })
	rec := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(logging.WithRequestID(ctx, "req-test-0001"), http.MethodGet, path, nil)
	h.ServeHTTP(rec, r)
	return answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}, logs.String()
}

func TestRespondStatusErrorCarriesItsHeaders(t *testing.T) {
	got, _ := respondTo(t, context.Background(), "/user/sign-in", errTooMany(89500*time.Millisecond, "Slow down a little."))
	if got.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", got.status)
	}
	if ra := got.header.Get("Retry-After"); ra != "90" {
		t.Errorf("Retry-After %q, want 90 (whole seconds, rounded up)", ra)
	}
	if !strings.Contains(got.body, "Slow down a little.") {
		t.Errorf("the page does not carry the error's words:\n%s", got.body)
	}
}

func TestRespondAnswersDomainErrorsByTheTable(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		err        error
		status     int
		message    string
		header     [2]string
	}{
		{"a record not found, wrapped", "/admin/users/7/edit", fmt.Errorf("load user 7: %w", users.ErrNotFound), http.StatusNotFound, "There is no page at this address.", [2]string{}},
		{"an API key not the caller's", "/user/apikeys/3/delete", users.ErrAPIKeyNotFound, http.StatusNotFound, "You have no such API key.", [2]string{}},
		{"a revoked API key, in JSON", "/api/v1/me", fmt.Errorf("authenticate: %w", users.ErrInvalidAPIKey), http.StatusUnauthorized,
			"The API key is not valid: it is unknown or revoked.", [2]string{"WWW-Authenticate", `Bearer realm="api", error="invalid_token"`}},
		{"an expired link", "/user/confirm-email/x", users.ErrTokenExpired, http.StatusBadRequest, "This link has expired. Ask for a new one.", [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, logs := respondTo(t, context.Background(), tc.path, tc.err)
			if got.status != tc.status {
				t.Fatalf("status %d, want %d", got.status, tc.status)
			}
			if tc.header[0] != "" && got.header.Get(tc.header[0]) != tc.header[1] {
				t.Errorf("%s %q, want %q", tc.header[0], got.header.Get(tc.header[0]), tc.header[1])
			}
			if strings.HasPrefix(tc.path, "/api/") {
				var body struct{ Error struct{ Message string } }
				if err := json.Unmarshal([]byte(got.body), &body); err != nil || body.Error.Message != tc.message {
					t.Errorf("JSON error %q (%v), want message %q", got.body, err, tc.message)
				}
			} else if !strings.Contains(got.body, tc.message) {
				t.Errorf("the page does not say %q:\n%s", tc.message, got.body)
			}
			if strings.Contains(logs, "server error") {
				t.Errorf("a refusal was logged as a server error:\n%s", logs)
			}
		})
	}
}

func TestRespondAnswersADeadlineWith503(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	got, logs := respondTo(t, ctx, "/admin", fmt.Errorf("count users: %w", context.DeadlineExceeded))
	if got.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got.status)
	}
	if !strings.Contains(got.body, "This took too long") || !strings.Contains(got.body, "req-test-0001") {
		t.Errorf("the 503 page does not say why or give the request ID:\n%s", got.body)
	}
	if !strings.Contains(logs, "request deadline exceeded") {
		t.Errorf("the deadline was not logged:\n%s", logs)
	}
}

func TestRespondAnswersAnUnknownErrorWithA500ThatLeaksNothing(t *testing.T) {
	const secret = "dial tcp 10.1.2.3:5432: password authentication failed for user app"
	for _, path := range []string{"/user/profile", "/api/v1/me"} {
		t.Run(path, func(t *testing.T) {
			got, logs := respondTo(t, context.Background(), path, errors.New(secret))
			if got.status != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", got.status)
			}
			if strings.Contains(got.body, "password authentication") || strings.Contains(got.body, "10.1.2.3") {
				t.Errorf("the 500 shows the error to the client:\n%s", got.body)
			}
			if !strings.Contains(got.body, "req-test-0001") {
				t.Errorf("the 500 does not give the request ID:\n%s", got.body)
			}
			if !strings.Contains(logs, "server error") || !strings.Contains(logs, secret) || !strings.Contains(logs, "req-test-0001") {
				t.Errorf("the error was not logged once with its request ID:\n%s", logs)
			}
		})
	}
}

func TestRespondWritesNothingToAClientThatLeft(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, logs := respondTo(t, ctx, "/admin/users", fmt.Errorf("list users: %w", context.Canceled))
	if got.body != "" || got.header.Get("Content-Type") != "" {
		t.Errorf("answered a client that went away: %d %v\n%s", got.status, got.header, got.body)
	}
	if strings.Contains(logs, "server error") {
		t.Errorf("a client going away was logged as a server error:\n%s", logs)
	}
}
