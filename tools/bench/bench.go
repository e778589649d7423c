package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/testenv"
)

// The account every signed-in run uses. It has the dev role, so it may
// hold an API key.
const (
	benchEmail    = "bench@example.com"
	benchPassword = "correct horse battery staple"
)

// bench is one run's state: the built binaries, the Redis the production
// shape needs, what to clean up, and the report being filled in.
type bench struct {
	opts     options
	dir      string
	getenv   func(string) string
	progress io.Writer
	rep      *report
	bin      map[string]string
	secret   string

	// redisURL is the Redis every process of the run uses: a claimed
	// database on TEST_REDIS_URL's server, or miniredis in this process.
	redisURL  string
	realRedis bool
	rdb       *redis.Client

	cleanups []func()
	seq      int
}

func (b *bench) cleanup() {
	for _, f := range slices.Backward(b.cleanups) {
		f()
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// openRedis picks the Redis of the production shape.
func (b *bench) openRedis(ctx context.Context) error {
	b.secret = rand.Text() + rand.Text()
	if base := b.getenv("TEST_REDIS_URL"); base != "" {
		u, release, err := testenv.ClaimRedis(ctx, base)
		if err != nil {
			return err
		}
		b.cleanups = append(b.cleanups, func() { _ = release() })
		b.redisURL, b.realRedis = u, true
	} else {
		s := miniredis.NewMiniRedis()
		if err := s.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		stop := make(chan struct{})
		go func() { // miniredis expires keys only when its clock is moved
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					s.FastForward(time.Second)
				case <-stop:
					return
				}
			}
		}()
		b.cleanups = append(b.cleanups, func() { close(stop); s.Close() })
		b.redisURL = "redis://" + s.Addr() + "/0"
	}
	opts, err := redis.ParseURL(b.redisURL)
	if err != nil {
		return err
	}
	b.rdb = redis.NewClient(opts)
	b.cleanups = append(b.cleanups, func() { _ = b.rdb.Close() })
	return nil
}

// sqliteDB makes a new, empty SQLite database URL in the run's dir.
func (b *bench) sqliteDB() string {
	b.seq++
	return "sqlite://" + filepath.Join(b.dir, fmt.Sprintf("db%d", b.seq), "app.db")
}

// env is the production-shape environment of a Launchkit binary:
// ENV=production, a SECRET_KEY, Redis for jobs, the given database and
// session store, then extra on top.
func (b *bench) env(addr, dbURL, store string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + b.dir,
		"ENV=production", "SECRET_KEY=" + b.secret, "REDIS_URL=" + b.redisURL,
		"DATABASE_URL=" + dbURL, "ALLOW_SQLITE_IN_PRODUCTION=true",
		"ADDR=" + addr, "BASE_URL=http://" + addr,
		"MAIL_OUTBOX_DIR=" + filepath.Join(b.dir, "outbox"),
		"SESSION_STORE=" + store,
		"METRICS_TOKEN=" + metricsToken, // production serves /metrics only with one
	}
	return append(env, extra...)
}

// manage runs bin/manage with env and stdin, failing with its output.
func (b *bench) manage(ctx context.Context, env []string, stdin string, args ...string) error {
	return b.manageWith(ctx, b.bin["manage"], env, stdin, args...)
}

// manageWith runs the manage binary at bin (another version's) the same way.
func (b *bench) manageWith(ctx context.Context, bin string, env []string, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, b.dir
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("manage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// prepareDB migrates dbURL and creates the bench account in it, as a
// deploy does: `manage migrate up`, then `manage user create`.
func (b *bench) prepareDB(ctx context.Context, dbURL string) error {
	env := b.env("127.0.0.1:0", dbURL, "database")
	if err := b.manage(ctx, env, "", "migrate", "up"); err != nil {
		return err
	}
	return b.manage(ctx, env, benchPassword+"\n", "user", "create", "--email", benchEmail, "--role", "dev", "--password-stdin")
}

// burstEmail is the address of the i-th account of the sign-in burst.
func burstEmail(i int) string { return fmt.Sprintf("burst-%d@example.com", i) }

// site is a running web process.
type site struct {
	*proc
	base   string       // http://127.0.0.1:port
	cookie *http.Cookie // the bench account's session, once signed in
}

// startWeb starts bin/web in the production shape on dbURL with store.
func (b *bench) startWeb(dbURL, store string, extra ...string) (*site, error) {
	return b.startWebBin(b.bin["web"], dbURL, store, extra...)
}

// startWebBin starts the web binary at bin (another version's) the same way.
func (b *bench) startWebBin(bin, dbURL, store string, extra ...string) (*site, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc("web", bin, nil, b.env(addr, dbURL, store, extra...), b.dir)
	if err != nil {
		return nil, err
	}
	s := &site{proc: p, base: "http://" + addr}
	if _, err := p.waitHTTP(s.base+"/healthz", 30*time.Second); err != nil {
		_ = p.stop()
		return nil, err
	}
	return s, nil
}

// startPrepared starts bin/web on a new SQLite database, prepared as a
// deploy does, with the default session store; it returns the database's
// URL too.
func (b *bench) startPrepared(ctx context.Context) (*site, string, error) {
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return nil, "", err
	}
	s, err := b.startWeb(dbURL, "database")
	return s, dbURL, err
}

// signIn posts the credentials of the bench account email from the
// loopback address from and returns the session cookie the site set.
func signIn(base, email string, from net.IP) (*http.Cookie, error) {
	client := newClient(loadSpec{localAddr: func(int) net.IP { return from }}, 0)
	defer client.CloseIdleConnections()
	form := url.Values{"email": {email}, "password": {benchPassword}}
	res, err := client.PostForm(base+"/user/sign-in", form)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign-in answered %d, want 303", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == "session" && c.Value != "" {
			return &http.Cookie{Name: c.Name, Value: c.Value}, nil
		}
	}
	return nil, fmt.Errorf("sign-in set no session cookie")
}

// signedInHome is the request of the signed-in runs. It checks once that
// the cookie really signs the visitor in.
func signedInHome(base string, cookie *http.Cookie) (func(int) *http.Request, error) {
	req := func(int) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		r.AddCookie(cookie)
		return r
	}
	res, err := http.DefaultClient.Do(req(0))
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), benchEmail) {
		return nil, fmt.Errorf("the home page with the session cookie (status %d) does not show the signed-in user", res.StatusCode)
	}
	return req, nil
}

// apiKey trades the bench account's password for an API key.
func apiKey(base string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": benchEmail, "password": benchPassword})
	res, err := http.Post(base+"/api/v1/credentials", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("/api/v1/credentials answered %d (%v)", res.StatusCode, err)
	}
	return out.Key, nil
}

// metricsToken is the METRICS_TOKEN the bench gives its sites.
const metricsToken = "bench-metrics-token"

// storeWrites reads the site's count of session-store writes from
// /metrics, or -1 when it does not publish one.
func storeWrites(base string) int64 {
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var total int64 = -1
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "launchkit_session_store_writes_total"); ok {
			fields := strings.Fields(rest)
			var v float64
			if len(fields) > 0 {
				if _, err := fmt.Sscan(fields[len(fields)-1], &v); err == nil {
					total = max(total, 0) + int64(v)
				}
			}
		}
	}
	return total
}

// loopback returns the address 127.0.0.n, for a client of its own.
func loopback(n int) net.IP { return net.IPv4(127, 0, 0, byte(n)) }

// parallel runs f(i) for i in [0, n) at once, released together, and
// returns the errors.
func parallel(n int, f func(i int) error) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			errs[i] = f(i)
		}()
	}
	close(gate)
	wg.Wait()
	return errs
}
