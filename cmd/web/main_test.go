package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// The test binary doubles as the web binary: with LAUNCHKIT_WEB_CHILD set
// it runs the real main path, plus a slow route to shut down during.
func TestMain(m *testing.M) {
	if os.Getenv("LAUNCHKIT_WEB_CHILD") == "1" {
		os.Exit(exitCode(web.WithExtraRoutes(slowRoute)))
	}
	os.Exit(m.Run())
}

func slowRoute(r chi.Router) {
	r.Get("/test/slow", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("slow request started")
		time.Sleep(2 * time.Second)
		_, _ = io.WriteString(w, "slow request finished")
	})
}

// child starts this test binary as the web process with env added.
func child(t *testing.T, env ...string) *exec.Cmd {
	return childWithArgs(t, nil, env...)
}

func childWithArgs(t *testing.T, args []string, env ...string) *exec.Cmd {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"LAUNCHKIT_WEB_CHILD=1",
		"ENV=test",
		"ADDR=127.0.0.1:0",
		"DATABASE_URL=sqlite://"+filepath.Join(dir, "app.db"),
		"MAIL_OUTBOX_DIR="+filepath.Join(dir, "outbox"),
	)
	cmd.Env = testenv.BinaryEnv(append(cmd.Env, env...)...)
	return cmd
}

func TestSIGTERMLetsASlowRequestFinishThenExits0(t *testing.T) {
	p := testenv.Start(t, child(t, "SHUTDOWN_TIMEOUT=20s"))
	base := p.WaitListening()

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/test/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()
	p.WaitForOutput(regexp.MustCompile("slow request started"), 10*time.Second)
	p.Terminate()

	r := <-done
	if r.err != nil || r.status != 200 || r.body != "slow request finished" {
		t.Fatalf("slow request during shutdown: status %d, body %q, err %v", r.status, r.body, r.err)
	}
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	out := p.Output()
	for _, want := range []string{"shutting down", "worker stopped", "web stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestSIGTERMTurnsReadinessOffBeforeClosing: on SIGTERM, with a drain
// delay, /readyz answers 503 at once while pages are still served, so a
// load balancer stops sending traffic before the listener closes; then
// the process exits 0.
func TestSIGTERMTurnsReadinessOffBeforeClosing(t *testing.T) {
	p := testenv.Start(t, child(t, "SHUTDOWN_DRAIN_DELAY=3s"))
	base := p.WaitListening()
	status := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM = %d", got)
	}
	p.Terminate()
	p.WaitForOutput(regexp.MustCompile("readyz answers 503"), 10*time.Second)
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining = %d, want 503", got)
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining = %d, want 200: the process still serves", got)
	}
	if got := status("/"); got != http.StatusOK {
		t.Errorf("GET / while draining = %d, want 200", got)
	}
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

func TestBadConfigExitsWithOneMessageNamingTheKey(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("APP_NAME: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string
		key  string
	}{
		{"unparseable file", "APPLICATION_SETTINGS=" + badYAML, "APPLICATION_SETTINGS"},
		{"missing file", "APPLICATION_SETTINGS=" + filepath.Join(dir, "nope.yaml"), "APPLICATION_SETTINGS"},
		{"address", "ADDR=not-an-address", "ADDR"},
		{"database scheme", "DATABASE_URL=oracle://db/app", "DATABASE_URL"},
		{"production without a secret key", "ENV=production", "SECRET_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testenv.Start(t, child(t, tc.env))
			if code := p.Wait(30 * time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			out := strings.TrimSpace(p.Output())
			if !strings.HasPrefix(out, "web: invalid configuration") || !strings.Contains(out, tc.key) {
				t.Errorf("message does not name %s:\n%s", tc.key, out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine") {
				t.Errorf("bad config must not panic:\n%s", out)
			}
			if tc.name != "production without a secret key" && strings.Count(out, "\n") != 0 {
				t.Errorf("want one line, got:\n%s", out)
			}
		})
	}
}

func TestRunReturnsOnCancel(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"ENV": "test", "ADDR": "127.0.0.1:0",
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "app.db"), "MAIL_OUTBOX_DIR": filepath.Join(dir, "outbox"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &testenv.Buffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "msg=listening") {
		if time.Now().After(deadline) {
			t.Fatalf("not listening:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run returned %v after cancel", err)
	}
}

// TestListeningLineShowsTheURLServed: the start-up line names the URL the
// server answers on, whatever ADDR is (a wildcard address shows as
// localhost, port 0 as the port picked), and BASE_URL beside it when
// that is another URL, so a newcomer opens the right one.
func TestListeningLineShowsTheURLServed(t *testing.T) {
	port := testenv.FreePort(t)
	local := fmt.Sprintf("http://localhost:%d", port)
	for _, tc := range []struct {
		name    string
		env     []string
		want    *regexp.Regexp // the url the line shows
		baseURL bool           // whether it shows BASE_URL too
	}{
		{"a loopback address, port 0", []string{"ADDR=127.0.0.1:0"},
			regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*$`), true},
		{"every interface, a port", []string{fmt.Sprintf("ADDR=:%d", port)},
			regexp.MustCompile("^" + regexp.QuoteMeta(local) + "$"), true},
		{"BASE_URL the URL served", []string{fmt.Sprintf("ADDR=:%d", port), "BASE_URL=" + local},
			regexp.MustCompile("^" + regexp.QuoteMeta(local) + "$"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testenv.Start(t, child(t, tc.env...))
			line := p.WaitForOutput(regexp.MustCompile(`msg=listening .*`), 60*time.Second)
			url := regexp.MustCompile(`url=(\S+)`).FindStringSubmatch(line)
			if url == nil || !tc.want.MatchString(url[1]) {
				t.Fatalf("listening line %q: want url= matching %s", line, tc.want)
			}
			if got := strings.Contains(line, " base_url="); got != tc.baseURL {
				t.Errorf("listening line %q: shows BASE_URL %v, want %v", line, got, tc.baseURL)
			}
			resp, err := http.Get(url[1] + "/healthz")
			if err != nil {
				t.Fatalf("the URL the line shows does not answer: %v", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s/healthz = %d, want 200", url[1], resp.StatusCode)
			}
			p.Terminate()
			if code := p.Wait(30 * time.Second); code != 0 {
				t.Errorf("exit code %d after SIGTERM", code)
			}
		})
	}
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	p := testenv.Start(t, childWithArgs(t, []string{"-no-such-flag"}))
	if code := p.Wait(30 * time.Second); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(p.Output(), "-config") {
		t.Errorf("usage should list the flags:\n%s", p.Output())
	}
}

// TestAnAddressInUseExitsNamingIt: when ADDR, METRICS_ADDR or DEBUG_ADDR cannot be
// listened on, the process exits 1 with a line naming the key and the
// address.
func TestAnAddressInUseExitsNamingIt(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tc := range []struct{ key, env string }{
		{"ADDR", "ADDR=" + addr},
		{"METRICS_ADDR", "METRICS_ADDR=" + addr},
		{"DEBUG_ADDR", "DEBUG_ADDR=" + addr},
	} {
		t.Run(tc.key, func(t *testing.T) {
			p := testenv.Start(t, child(t, tc.env))
			if code := p.Wait(60 * time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", code, p.Output())
			}
			want := "web: " + tc.key + " " + addr + ": listen tcp " + addr + ": bind: address already in use"
			if out := p.Output(); !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		})
	}
}

// TestADirectoryThatDoesNotAnswerIsSaidAtStart: with directory sign-in
// on and the directory down, the web process starts and serves, and says
// once at start that directory users cannot sign in, before anyone tries.
func TestADirectoryThatDoesNotAnswerIsSaidAtStart(t *testing.T) {
	var env []string
	for k, v := range testenv.DirectoryAt(fmt.Sprintf("ldap://127.0.0.1:%d", testenv.FreePort(t))).Settings() {
		env = append(env, k+"="+v)
	}
	p := testenv.Start(t, child(t, env...))
	base := p.WaitListening()
	p.WaitForOutput(regexp.MustCompile(`level=WARN msg="directory sign-in: the directory does not answer; directory users cannot sign in until it does"`), 30*time.Second)
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz with the directory down: %v, %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	p.Terminate()
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestDebugAddrServesProfilesOnLoopbackOnly: with DEBUG_ADDR=:PORT the
// runtime profiles are served on 127.0.0.1:PORT (a bare port is loopback,
// not every interface), and never on the site's own address.
func TestDebugAddrServesProfilesOnLoopbackOnly(t *testing.T) {
	port := testenv.FreePort(t)
	p := testenv.Start(t, child(t, fmt.Sprintf("DEBUG_ADDR=:%d", port)))
	base := p.WaitListening()
	addr := p.WaitForOutput(regexp.MustCompile(`msg="debug listening" addr=(\S+)`), 30*time.Second)
	if want := fmt.Sprintf("127.0.0.1:%d", port); addr != want {
		t.Fatalf("the debug listener is on %s, want %s", addr, want)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	debug := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code, body := get(debug + "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("the goroutine profile on DEBUG_ADDR: %d\n%.300s", code, body)
	}
	if code, _ := get(debug + "/"); code != http.StatusNotFound {
		t.Errorf("the debug listener's / answered %d: it serves the profiles alone", code)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if code, _ := get(base + path); code != http.StatusNotFound {
			t.Errorf("the site answered %s with %d, want 404", path, code)
		}
	}
}
