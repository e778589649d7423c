package errreport

import (
	"strings"
	"testing"

	"github.com/getsentry/sentry-go"
)

// TestScrubbingHidesCredentialsAndKeepsTheError: each rule hides what it
// is for, and leaves an error's own words readable.
func TestScrubbingHidesCredentialsAndKeepsTheError(t *testing.T) {
	t.Parallel()
	s := newScrubber(func(t string) string { return strings.ReplaceAll(t, "the-configured-secret", redacted) }, []string{"lk_session"})
	for _, tc := range []struct{ in, want string }{
		{"password=hunter2 user=ada", "password=[redacted] user=ada"},
		{"POST /sign-in?email=a@b.c&reset_token=abc123&x=1", "POST /sign-in?email=a@b.c&reset_token=[redacted]&x=1"},
		{`{"email":"a@b.c","password":"hunter2"}`, `{"email":"a@b.c","password":"[redacted]"}`},
		{"OIDC_CLIENT_SECRET=abc (from env)", "OIDC_CLIENT_SECRET=[redacted] (from env)"},
		{"Authorization: Bearer eyJ.abc.def", "Authorization: [redacted]"},
		{"calling with bearer eyJhbGciOi.abc", "calling with bearer [redacted]"},
		{"header map[Accept:[*/*] Cookie:[session=abc; device=def]]", "header map[Accept:[*/*] Cookie:[redacted]]"},
		{`{"X-Api-Key":["lk_x"]}`, `{"X-Api-Key":[redacted]}`},
		{"lk_session=opaquevalue; theme=dark", "lk_session=[redacted]; theme=dark"},
		{"got lk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCDEFG from the client", "got [redacted] from the client"},
		{"dial postgres://app:pa55word@db:5432/app", "dial postgres://app:[redacted]@db:5432/app"},
		{"GET /user/confirm-email/Zm9vYmFy?next=/", "GET /user/confirm-email/[redacted]?next=/"},
		{"https://bucket.s3/x?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef", "https://bucket.s3/x?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]"},
		{"key is the-configured-secret.", "key is [redacted]."},
		// The databases' errors that quote the value at fault: an
		// email, a token's hash, whatever a client sent.
		{"users: Error 1062 (23000): Duplicate entry 'ada@example.com' for key 'users.email'", "users: Error 1062 (23000): Duplicate entry '[redacted]' for key 'users.email'"},
		{"Error 1062 (23000): Duplicate entry 'it''s-7' for key 'x'", "Error 1062 (23000): Duplicate entry '[redacted]' for key 'x'"},
		{`ERROR: invalid input syntax for type uuid: "tok3n-value" (SQLSTATE 22P02)`, `ERROR: invalid input syntax for type uuid: "[redacted]" (SQLSTATE 22P02)`},
		// Addresses, in whatever error quotes them (a refused
		// recipient of a mail task out of retries): the user's ID says who.
		{"mail:send: 550 5.1.1 <ada.l+x@mail.example.co.uk>: Recipient address rejected", "mail:send: 550 5.1.1 <[redacted]>: Recipient address rejected"},
		{"DETAIL: Key (email)=(ada@example.com) already exists.", "DETAIL: Key (email)=([redacted]) already exists."},
		{`Error 1366 (HY000): Incorrect string value: '\xF0\x9F\x98' for column 'name' at row 1`, `Error 1366 (HY000): Incorrect string value: '[redacted]' for column 'name' at row 1`},
		// An error's own words stay.
		{"session cookie: securecookie: the value is too long", "session cookie: securecookie: the value is too long"},
		{"password: wrong password", "password: wrong password"},
		{"users: token expired", "users: token expired"},
		{"GET /user/{id}: sql: no rows in result set", "GET /user/{id}: sql: no rows in result set"},
	} {
		if got := s.text(tc.in); got != tc.want {
			t.Errorf("scrub(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestScrubbingReachesEveryPartOfAnEvent: breadcrumbs, tags, contexts,
// frames are scrubbed; the request and everything of the user but the
// ID are dropped.
func TestScrubbingReachesEveryPartOfAnEvent(t *testing.T) {
	t.Parallel()
	s := newScrubber(nil, nil)
	leak := "token=abcdef123"
	e := &sentry.Event{
		Message:     leak,
		Breadcrumbs: []*sentry.Breadcrumb{{Message: leak, Data: map[string]any{"url": "/x?" + leak, "n": 3}}},
		Tags:        map[string]string{"where": leak},
		Contexts:    map[string]sentry.Context{"extra": {"nested": map[string]any{"list": []any{leak}}, "strs": []string{leak}}},
		Exception: []sentry.Exception{{Value: leak, Stacktrace: &sentry.Stacktrace{Frames: []sentry.Frame{{
			Function: "f", ContextLine: `pw := "` + leak + `"`, PreContext: []string{leak}, Vars: map[string]any{"v": leak},
		}}}}},
		User:    sentry.User{ID: "7", Email: "ada@example.com", IPAddress: "192.0.2.1"},
		Request: &sentry.Request{URL: "/x?" + leak, Cookies: "session=abc"},
	}
	s.event(e)
	raw, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"abcdef123", "ada@example.com", "192.0.2.1", "session=abc"} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("the event still holds %q:\n%s", bad, raw)
		}
	}
	if e.User.ID != "7" || e.Tags["where"] != "token=[redacted]" || e.Exception[0].Stacktrace.Frames[0].Function != "f" {
		t.Errorf("scrubbing took too much: user %+v tags %v frame %+v", e.User, e.Tags, e.Exception[0].Stacktrace.Frames[0])
	}
}
