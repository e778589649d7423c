package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

// secret looks like what must never reach a span: a token, a password
// hash, a session's data.
const secret = "tok_9f2c41d7e0secret"

// inRequest runs fn inside a server span of a's tracing (a request, the
// only kind of span that may start a trace) and returns the span's ID.
func inRequest(t *testing.T, a *app.App, fn func(ctx context.Context)) trace.SpanID {
	t.Helper()
	ctx, span := a.Telemetry.TracerProvider().Tracer("test").Start(t.Context(), "GET /test", trace.WithSpanKind(trace.SpanKindServer))
	fn(ctx)
	span.End()
	return span.SpanContext().SpanID()
}

// childrenOf are the spans whose parent is the span parent, of kind client.
func childrenOf(spans tracetest.SpanStubs, parent trace.SpanID) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Parent.SpanID() == parent && s.SpanKind == trace.SpanKindClient {
			out = append(out, s)
		}
	}
	return out
}

// names lists the spans' names.
func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// leaks reports what of span holds any of values: its name, an
// attribute, its status or an event.
func leaks(span tracetest.SpanStub, values ...string) string {
	texts := []string{span.Name, span.Status.Description}
	for _, kv := range span.Attributes {
		texts = append(texts, string(kv.Key)+"="+kv.Value.String())
	}
	for _, e := range span.Events {
		texts = append(texts, e.Name)
		for _, kv := range e.Attributes {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
	}
	for _, text := range texts {
		for _, v := range values {
			if v != "" && strings.Contains(text, v) {
				return text
			}
		}
	}
	return ""
}

func attr(span tracetest.SpanStub, key string) string {
	for _, kv := range span.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// TestSQLIsTracedWithoutItsValues: each statement through Gorm, on the
// read pool and the writing one, is a client span of the request that
// made it, with the statement's text but none of its values.
func TestSQLIsTracedWithoutItsValues(t *testing.T) {
	a, _, exp := testenv.NewTracedApp(t, nil)
	if a.DB.ReadSQL == a.DB.SQL {
		t.Fatal("want SQLite's two pools: the read pool is dbresolver's replica")
	}
	parent := inRequest(t, a, func(ctx context.Context) {
		var n int64
		if err := a.DB.Gorm.WithContext(ctx).Table("users").Where("email = ?", secret).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if err := a.DB.Gorm.WithContext(ctx).Exec("UPDATE users SET password_hash = ? WHERE email = ?", secret, secret).Error; err != nil {
			t.Fatal(err)
		}
	})
	spans := childrenOf(testenv.Spans(t, a, exp), parent)
	if len(spans) != 2 {
		t.Fatalf("spans under the request: %v, want the count and the update", names(spans))
	}
	for i, want := range []string{"SELECT count(*) FROM `users` WHERE email = ?", "UPDATE users SET password_hash = ? WHERE email = ?"} {
		if got := attr(spans[i], "db.query.text"); got != want {
			t.Errorf("span %q: db.query.text %q, want %q", spans[i].Name, got, want)
		}
		if attr(spans[i], "db.system.name") != "sqlite" {
			t.Errorf("span %q: attributes %v", spans[i].Name, spans[i].Attributes)
		}
		if leak := leaks(spans[i], secret); leak != "" {
			t.Errorf("span %q holds the value: %s", spans[i].Name, leak)
		}
	}
}

// TestRedisCommandsAreTracedWithoutArguments: a command is a client span
// of the request, named by the command, without its key or value.
func TestRedisCommandsAreTracedWithoutArguments(t *testing.T) {
	a, _, exp := testenv.NewTracedApp(t, nil)
	parent := inRequest(t, a, func(ctx context.Context) {
		if err := a.Redis.Set(ctx, "session:"+secret, secret, 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	spans := childrenOf(testenv.Spans(t, a, exp), parent)
	if len(spans) != 1 || spans[0].Name != "set" {
		t.Fatalf("spans under the request: %v, want set", names(spans))
	}
	if leak := leaks(spans[0], secret); leak != "" {
		t.Errorf("the span holds the key or value: %s", leak)
	}
}

// TestS3RequestsAreTracedAndPresigningIsNot: a Put is a client span of
// the request; a presigned URL, computed here, makes none.
func TestS3RequestsAreTracedAndPresigningIsNot(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	env := map[string]string{}
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	a, _, exp := testenv.NewTracedApp(t, env)
	parent := inRequest(t, a, func(ctx context.Context) {
		if err := a.Storage.Put(ctx, "docs/x.txt", strings.NewReader("hello"), 5, "text/plain"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Storage.URL(ctx, "docs/x.txt", storage.Download{}); err != nil {
			t.Fatal(err)
		}
	})
	spans := childrenOf(testenv.Spans(t, a, exp), parent)
	if len(spans) != 1 || spans[0].Name != "S3.PutObject" {
		t.Fatalf("spans under the request: %v, want S3.PutObject alone", names(spans))
	}
	if attr(spans[0], "aws.s3.bucket") != fake.Bucket || attr(spans[0], "http.response.status_code") != "200" {
		t.Errorf("attributes %v", spans[0].Attributes)
	}
}

// TestDirectorySignInIsTracedWithoutPasswords: a sign-in against the
// directory is its connection, binds and searches, each a client span of
// the request naming the server, none holding a password, a DN or the
// username searched for.
func TestDirectorySignInIsTracedWithoutPasswords(t *testing.T) {
	dir := testenv.Slapd(t)
	a, _, exp := testenv.NewTracedApp(t, dir.Settings())
	password := testenv.DirectoryUsers["alice"]
	parent := inRequest(t, a, func(ctx context.Context) {
		if _, err := a.Directory.Authenticate(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Directory.Authenticate(ctx, "alice", password+"-wrong"); err == nil {
			t.Fatal("a wrong password signed in")
		}
	})
	spans := childrenOf(testenv.Spans(t, a, exp), parent)
	got := strings.Join(names(spans), ",")
	// Each sign-in: connect, the service account's bind, the user's
	// search, the user's bind; the good one then binds back and reads
	// the groups.
	want := "ldap connect,ldap bind,ldap search,ldap bind,ldap bind,ldap search," +
		"ldap connect,ldap bind,ldap search,ldap bind"
	if got != want {
		t.Fatalf("spans under the request:\n%s\nwant\n%s", got, want)
	}
	for _, s := range spans {
		if attr(s, "server.address") == "" || attr(s, "server.port") == "" {
			t.Errorf("%s: attributes %v", s.Name, s.Attributes)
		}
		if leak := leaks(s, password, dir.BindPassword, "alice", dir.UserDN("alice")); leak != "" {
			t.Errorf("%s holds a secret or the user: %s", s.Name, leak)
		}
	}
	if wrong := spans[9]; wrong.Status.Description == "" || attr(wrong, "ldap.bind.account") != "user" {
		t.Errorf("the refused bind: status %+v, attributes %v", wrong.Status, wrong.Attributes)
	}
}

// TestSendingMailIsTracedWithoutAddresses: a message sent is a client
// span of the task (here a request) that sent it, without its recipient.
func TestSendingMailIsTracedWithoutAddresses(t *testing.T) {
	a, _, exp := testenv.NewTracedApp(t, nil)
	to := "ada.secret@example.com"
	parent := inRequest(t, a, func(ctx context.Context) {
		if err := a.Mailer.Send(ctx, mail.Message{To: []string{to}, Subject: "Welcome", Text: "Your code: " + secret}); err != nil {
			t.Fatal(err)
		}
	})
	spans := childrenOf(testenv.Spans(t, a, exp), parent)
	if len(spans) != 1 || spans[0].Name != "mail send" || attr(spans[0], "mail.transport") != "outbox" {
		t.Fatalf("spans under the request: %v", spans)
	}
	if leak := leaks(spans[0], to, secret, "Welcome"); leak != "" {
		t.Errorf("the span holds the message: %s", leak)
	}
}

// TestSignInProviderCallsAreTraced: discovery (at a sign-in's start)
// and the token exchange (at its callback) are client spans of the
// requests that made them, without the code or the client's secret.
func TestSignInProviderCallsAreTraced(t *testing.T) {
	op := testenv.StartOIDCProvider(t)
	a, _, exp := testenv.NewTracedApp(t, map[string]string{"OIDC_PROVIDERS": testenv.OIDCProvidersEnv(op.Config("test"))})
	p, _ := a.SSO.Get("test")
	var authURL string
	var pending sso.Pending
	start := inRequest(t, a, func(ctx context.Context) {
		var err error
		if authURL, pending, err = p.Start(ctx); err != nil {
			t.Fatal(err)
		}
	})
	op.Next(testenv.OIDCUser{Subject: "ada-1", Email: "ada@example.com", EmailVerified: true, Name: "Ada"})
	query := authorize(t, authURL)
	callback := inRequest(t, a, func(ctx context.Context) {
		if _, err := p.Finish(ctx, pending, query); err != nil {
			t.Fatal(err)
		}
	})
	spans := testenv.Spans(t, a, exp)
	for _, tc := range []struct {
		parent trace.SpanID
		method string
		path   string
	}{
		{start, "GET", "/.well-known/openid-configuration"},
		{callback, "POST", "/token"},
	} {
		got := childrenOf(spans, tc.parent)
		if len(got) != 1 || attr(got[0], "http.request.method") != tc.method || !strings.HasSuffix(attr(got[0], "url.full"), tc.path) {
			t.Errorf("want the %s %s under its request, got %v", tc.method, tc.path, got)
			continue
		}
		if leak := leaks(got[0], query.Get("code"), op.ClientSecret); leak != "" {
			t.Errorf("%s %s holds the code or the secret: %s", tc.method, tc.path, leak)
		}
	}
}

// authorize follows authURL to the provider as a browser would and
// returns the query it sends the browser back to the callback with.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("the provider answered %s, location %q", resp.Status, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// TestTracingOffInstallsNothing: with tracing off, the SQL plugin is not
// installed, and whatever provider is otel's global one records nothing
// of the app's queries, Redis commands or mail.
func TestTracingOffInstallsNothing(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	global := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	t.Cleanup(func() { otel.SetTracerProvider(global) })

	a, _ := testenv.NewApp(t, nil)
	if a.Telemetry.Enabled() {
		t.Fatal("tracing is on")
	}
	if a.DB.Gorm.Callback().Query().Get("otel:before:select") != nil {
		t.Error("the SQL tracing plugin is installed")
	}
	ctx := t.Context()
	var n int64
	if err := a.DB.Gorm.WithContext(ctx).Table("users").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if err := a.Redis.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Mailer.Send(ctx, mail.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"}); err != nil {
		t.Fatal(err)
	}
	if started := recorder.Started(); len(started) != 0 {
		t.Errorf("%d spans started with tracing off, the first %q", len(started), started[0].Name())
	}
}
