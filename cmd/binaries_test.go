// Package cmd_test runs the built binaries the way a deploy does: static
// builds, started from an empty directory, talking to Redis as separate
// web and worker processes.
package cmd_test

import (
	"context"
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

var binDir string

// TestMain builds bin/web, bin/worker and bin/manage once, as `make build`
// does (CGO_ENABLED=0) but without -tags nodev, since the tests run them
// in development too (nodev_test.go builds a nodev web), into a temp dir;
// under go test -cover they measure coverage too (testenv.BuildBinaries).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the binaries are not built: binary skips
	}
	dir, err := os.MkdirTemp("", "launchkit-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	if out, err := testenv.BuildBinaries("..", dir, "./cmd/web", "./cmd/worker", "./cmd/manage"); err != nil {
		fmt.Fprintf(os.Stderr, "build binaries: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// needBinaries skips t under -short, where TestMain builds no binaries.
func needBinaries(t *testing.T) {
	t.Helper()
	if binDir == "" {
		t.Skip("runs the built binaries: not in -short")
	}
}

// binary returns a command for bin/NAME run in its own empty directory
// with only env (plus PATH/HOME, and GOCOVERDIR under go test -cover) in
// its environment.
func binary(t *testing.T, name string, args []string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	needBinaries(t)
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Dir = dir
	cmd.Env = testenv.BinaryEnv(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)...)
	return cmd, dir
}

func TestBinariesAreStatic(t *testing.T) {
	needBinaries(t)
	for _, name := range []string{"web", "worker", "manage"} {
		f, err := elf.Open(filepath.Join(binDir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked", name)
			}
		}
		_ = f.Close()
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebRunsFromAnEmptyDirectory(t *testing.T) {
	cmd, dir := binary(t, "web", nil, "ADDR=127.0.0.1:0")
	p := testenv.Start(t, cmd)
	base := p.WaitListening()

	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/", 200, "Launchkit"},
		{"/healthz", 200, "ok"},
		{"/readyz", 200, `"status":"ok"`},
		{"/static/css/app.css", 200, ".flash"},
		{"/no-such-page", 404, "<!doctype html>"},
		{"/api/v1/no-such", 404, `{"error":{"message":`},
	} {
		status, body := get(t, base+tc.path)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d, want %d containing %q:\n%s", tc.path, status, tc.status, tc.want, body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "app.db")); err != nil {
		t.Errorf("the default SQLite database was not created under ./data: %v", err)
	}
	p.Terminate()
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if out := p.Output(); strings.Contains(out, "level=ERROR") || strings.Contains(out, "level=WARN") {
		t.Errorf("a clean start and stop logged warnings or errors:\n%s", out)
	}
}

// redisServers are the Redis servers the web/worker split is tested on.
func redisServers(t *testing.T) map[string]func(*testing.T) string {
	return map[string]func(*testing.T) string{
		"miniredis": func(t *testing.T) string {
			s := miniredis.RunT(t)
			return "redis://" + s.Addr() + "/0"
		},
		"redis": func(t *testing.T) string { return testenv.RedisURL(t) },
	}
}

func TestWithRedisTheWebEnqueuesAndTheWorkerProcesses(t *testing.T) {
	for name, redisURL := range redisServers(t) {
		t.Run(name, func(t *testing.T) {
			url := redisURL(t)
			shared := t.TempDir()
			outbox := filepath.Join(shared, "outbox")
			env := []string{
				"REDIS_URL=" + url,
				"DATABASE_URL=sqlite://" + filepath.Join(shared, "app.db"),
				"MAIL_OUTBOX_DIR=" + outbox,
				"ADDR=127.0.0.1:0",
			}
			webCmd, _ := binary(t, "web", nil, env...)
			web := testenv.Start(t, webCmd)
			web.WaitListening()

			rdb, err := redisconn.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			inspector := asynq.NewInspectorFromRedisClient(rdb)
			if servers, err := inspector.Servers(); err != nil || len(servers) != 0 {
				t.Fatalf("with REDIS_URL set the web process must not run a worker; servers = %v, err = %v", servers, err)
			}
			msg := mail.Message{To: []string{"grace@example.com"}, Subject: "Split processes", Text: "sent by the worker"}
			if err := jobs.NewClient(rdb).EnqueueMail(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			// Give a wrongly started in-process worker time to take the
			// task (asynq polls every second), then check nobody did.
			time.Sleep(2500 * time.Millisecond)
			info, err := inspector.GetQueueInfo(jobs.QueueCritical)
			if err != nil {
				t.Fatal(err)
			}
			if info.Pending != 1 {
				t.Fatalf("pending tasks = %d while only the web runs, want 1", info.Pending)
			}
			if files, _ := filepath.Glob(filepath.Join(outbox, "*.eml")); len(files) != 0 {
				t.Fatalf("mail was sent with no worker running: %v", files)
			}

			workerCmd, _ := binary(t, "worker", nil, env...)
			worker := testenv.Start(t, workerCmd)
			worker.WaitForOutput(regexp.MustCompile("worker started"), 30*time.Second)
			deadline := time.Now().Add(20 * time.Second)
			for {
				files, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
				if len(files) == 1 {
					b, _ := os.ReadFile(files[0])
					if !strings.Contains(string(b), "Subject: Split processes") {
						t.Errorf("unexpected mail:\n%s", b)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the worker did not send the mail")
				}
				time.Sleep(50 * time.Millisecond)
			}

			worker.Terminate()
			web.Terminate()
			if code := worker.Wait(30 * time.Second); code != 0 {
				t.Errorf("worker exit code %d after SIGTERM", code)
			}
			if code := web.Wait(30 * time.Second); code != 0 {
				t.Errorf("web exit code %d after SIGTERM", code)
			}
		})
	}
}

// TestWorkerUnknownFlagIsAUsageError: a flag the worker does not know
// exits 2, naming the flag, before anything starts.
func TestWorkerUnknownFlagIsAUsageError(t *testing.T) {
	cmd, _ := binary(t, "worker", []string{"-no-such-flag"}, "REDIS_URL=redis://127.0.0.1:1/0")
	p := testenv.Start(t, cmd)
	if code := p.Wait(30 * time.Second); code != 2 {
		t.Fatalf("exit code %d, want 2:\n%s", code, p.Output())
	}
	if out := p.Output(); !strings.Contains(out, "-no-such-flag") || strings.Contains(out, "starting worker") {
		t.Errorf("output:\n%s", out)
	}
}

func TestWorkerWithoutRedisExplainsAndExits1(t *testing.T) {
	cmd, _ := binary(t, "worker", nil)
	p := testenv.Start(t, cmd)
	if code := p.Wait(30 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	out := p.Output()
	for _, want := range []string{"REDIS_URL is not set", "make run", "redis://"} {
		if !strings.Contains(out, want) {
			t.Errorf("message lacks %q:\n%s", want, out)
		}
	}
}

func TestManage(t *testing.T) {
	needBinaries(t)
	dbURL := "DATABASE_URL=sqlite://app.db"
	run := func(t *testing.T, dir string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "manage"), args...)
		cmd.Dir = dir
		cmd.Env = testenv.BinaryEnv("PATH="+os.Getenv("PATH"), dbURL, "APP_NAME=Manage Test")
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	dir := t.TempDir()

	code, out := run(t, dir, "migrate", "status")
	if code != 0 || !regexp.MustCompile(`1\s+pending\s+00001_sessions.sql`).MatchString(out) {
		t.Fatalf("migrate status on a new database = %d:\n%s", code, out)
	}
	total := strings.Count(out, "pending")
	if code, out = run(t, dir, "migrate", "up"); code != 0 || !strings.Contains(out, fmt.Sprintf("applied %d migration", total)) {
		t.Fatalf("migrate up = %d, want %d applied:\n%s", code, total, out)
	}
	if code, out = run(t, dir, "migrate", "status"); code != 0 || !regexp.MustCompile(`1\s+applied`).MatchString(out) || strings.Contains(out, "pending") {
		t.Fatalf("migrate status after up = %d:\n%s", code, out)
	}
	if code, out = run(t, dir, "migrate", "down"); code != 0 {
		t.Fatalf("migrate down = %d:\n%s", code, out)
	}
	// Only the latest migration is rolled back.
	if code, out = run(t, dir, "migrate", "status"); strings.Count(out, "pending") != 1 || !regexp.MustCompile(`pending\s+\S+\.sql\s*$`).MatchString(out) {
		t.Fatalf("migrate status after down = %d:\n%s", code, out)
	}

	code, out = run(t, dir, "config")
	if code != 0 || !regexp.MustCompile(`APP_NAME\s+Manage Test\s+env`).MatchString(out) || !regexp.MustCompile(`ADDR\s+:8000\s+default`).MatchString(out) {
		t.Errorf("manage config = %d:\n%s", code, out)
	}
	if code, out = run(t, dir, "config", "--check"); code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("manage config --check = %d:\n%s", code, out)
	}

	for _, args := range [][]string{{}, {"frobnicate"}, {"migrate"}, {"migrate", "sideways"}, {"migrate", "create"}, {"config", "extra"}, {"-no-such-flag"}} {
		if code, out := run(t, dir, args...); code != 2 || !strings.Contains(out, "usage:") {
			t.Errorf("manage %v = %d, want 2 with usage:\n%s", args, code, out)
		}
	}
}

// TestManageCommandLine: help, the migration generator, and what a bad
// command line or a bad DATABASE_URL gets: the exit codes the usage
// promises (0 ok, 1 failure, 2 bad usage) and a line saying why.
func TestManageCommandLine(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	run := func(env string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "manage"), args...)
		cmd.Dir = dir
		cmd.Env = testenv.BinaryEnv("PATH="+os.Getenv("PATH"), env)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	db := "DATABASE_URL=sqlite://app.db"

	if code, out, _ := run(db, "help"); code != 0 || !strings.HasPrefix(out, "usage:") {
		t.Errorf("manage help = %d, want 0 with the usage on stdout:\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "up", "now"}, "manage: migrate up takes no arguments"},
		{[]string{"config", "--verbose"}, "manage: flag provided but not defined: -verbose"},
		{[]string{"config", "-h"}, "usage:"},
	} {
		if code, _, errOut := run(db, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "usage:") {
			t.Errorf("manage %v = %d, want 2 with %q and the usage:\n%s", tc.args, code, tc.want, errOut)
		}
	}
	if code, _, errOut := run("DATABASE_URL=oracle://scott@db/orcl", "migrate", "up"); code != 1 || !strings.Contains(errOut, `"oracle"`) || strings.Contains(errOut, "usage:") {
		t.Errorf("migrate up on an unknown database = %d, want 1 with the reason:\n%s", code, errOut)
	}

	// create writes the next number into each dialect directory there is.
	if code, _, errOut := run(db, "migrate", "create", "add_widgets"); code != 1 || !strings.Contains(errOut, "run it from the repository root") {
		t.Errorf("migrate create outside a source tree = %d:\n%s", code, errOut)
	}
	for _, d := range []string{"sqlite", "postgres"} {
		if err := os.MkdirAll(filepath.Join(dir, "migrations", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "migrations", "sqlite", "00007_users.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(db, "migrate", "create", "add_widgets")
	want := "created migrations/sqlite/00008_add_widgets.sql\ncreated migrations/postgres/00008_add_widgets.sql\n"
	if code != 0 || out != want {
		t.Errorf("migrate create = %d:\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "migrations", "postgres", "00008_add_widgets.sql")); err != nil || !strings.Contains(string(b), "-- +goose Up") {
		t.Errorf("the new postgres migration: %q, %v", b, err)
	}
}

func TestManageUsers(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "app.db")
	// run runs bin/manage with stdin and returns its exit code, stdout and
	// stderr.
	run := func(t *testing.T, stdin string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "manage"), args...)
		cmd.Dir = dir
		cmd.Env = testenv.BinaryEnv("PATH="+os.Getenv("PATH"), "DATABASE_URL="+dbURL)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	// fails runs a command that must exit 1 with one line on stderr
	// containing want.
	fails := func(t *testing.T, stdin, want string, args ...string) {
		t.Helper()
		code, stdout, stderr := run(t, stdin, args...)
		line := strings.TrimSuffix(stderr, "\n")
		if code != 1 || !strings.Contains(line, want) || strings.Contains(line, "\n") || strings.Contains(stdout, "password:") {
			t.Errorf("manage %v = %d, want 1 and one line on stderr saying %q\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout, stderr)
		}
	}

	fails(t, "", "run `manage migrate up` first", "user", "create", "--email", "ada@example.com")
	fails(t, "", "run `manage migrate up` first", "role", "add", "editors")
	if code, out, errOut := run(t, "", "migrate", "up"); code != 0 {
		t.Fatalf("migrate up = %d:\n%s%s", code, out, errOut)
	}

	// A generated password is printed once, with a warning that it is.
	code, out, errOut := run(t, "", "user", "create", "--email", "Ada@Example.com", "--role", "admin")
	m := regexp.MustCompile(`(?m)^password: ([A-Za-z0-9]{20})$`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "ada@example.com (roles: admin, user; address confirmed)") || !strings.Contains(out, "shown only once") {
		t.Fatalf("user create = %d, want the user and a generated password:\n%s%s", code, out, errOut)
	}
	adaGenerated := m[1]
	if strings.Count(out, adaGenerated) != 1 || errOut != "" {
		t.Errorf("the generated password should appear exactly once, on stdout:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}

	code, out, errOut = run(t, "grace-password-1\n", "user", "create", "--email", "grace@example.com", "--password-stdin", "--unconfirmed")
	if code != 0 || !strings.Contains(out, "grace@example.com (roles: user; address unconfirmed)") || strings.Contains(out, "password") {
		t.Errorf("user create --password-stdin = %d, want the user and no password:\n%s%s", code, out, errOut)
	}

	fails(t, "", "email address already registered", "user", "create", "--email", "ADA@example.com")

	// ensure: the deploy's seeding step, run on every deploy.
	code, out, errOut = run(t, "seed-password-1\n", "user", "ensure", "--email", "Admin@example.com", "--role", "admin", "--password-stdin")
	if code != 0 || !strings.Contains(out, "created user") || !strings.Contains(out, "admin@example.com (roles: admin, user; address confirmed)") {
		t.Errorf("user ensure of a new address = %d, want it created:\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "another-password\n", "user", "ensure", "--email", "admin@example.com", "--role", "dev", "--password-stdin")
	if code != 0 || !strings.Contains(out, "admin@example.com exists: left as it is (roles: admin, user)") || errOut != "" {
		t.Errorf("user ensure of an existing address = %d, want it left as it is:\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, "", "user", "ensure", "--email", "ada@example.com")
	if code != 0 || strings.Contains(out, "password:") {
		t.Errorf("user ensure of an existing address printed a password or failed (%d):\n%s", code, out)
	}
	if code, out, errOut = run(t, "", "role", "add", "editors"); code != 0 || !strings.Contains(out, "added role editors") {
		t.Errorf("role add editors = %d:\n%s%s", code, out, errOut)
	}
	fails(t, "", "role already exists", "role", "add", "editors")
	fails(t, "", "role names are", "role", "add", "Bad Name")
	code, out, errOut = run(t, "linus-password\n", "user", "create", "--email", "linus@example.com", "--role", "editors", "--role", "dev", "--password-stdin")
	if code != 0 || !strings.Contains(out, "linus@example.com (roles: dev, editors, user; address confirmed)") {
		t.Errorf("user create with added roles = %d:\n%s%s", code, out, errOut)
	}
	fails(t, "", "unknown role wizard", "user", "create", "--email", "merlin@example.com", "--role", "wizard")
	fails(t, "", "not a valid email address", "user", "create", "--email", "not-an-email")
	fails(t, "short\n", "password not allowed: use at least 8 characters", "user", "create", "--email", "weak@example.com", "--password-stdin")
	fails(t, "password\n", "password not allowed: this is one of the most common passwords", "user", "create", "--email", "weak@example.com", "--password-stdin")
	fails(t, "LAUNCHKIT\n", "password not allowed: your password must not be the site's name", "user", "create", "--email", "weak@example.com", "--password-stdin")
	fails(t, "", "stdin holds no password", "user", "create", "--email", "empty@example.com", "--password-stdin")

	code, out, errOut = run(t, "ada-new-password\r\n", "user", "reset-password", "--email", "ada@example.com", "--password-stdin")
	if code != 0 || !strings.Contains(out, "password reset for ada@example.com") || strings.Contains(out, "password:") {
		t.Errorf("user reset-password --password-stdin = %d:\n%s%s", code, out, errOut)
	}
	fails(t, "another-password\n", "user not found", "user", "reset-password", "--email", "nobody@example.com", "--password-stdin")
	fails(t, "short\n", "password not allowed", "user", "reset-password", "--email", "grace@example.com", "--password-stdin")

	// user roles: what gives an existing account the dev role its API
	// keys need, and takes roles away.
	code, out, errOut = run(t, "", "user", "roles", "--email", "Grace@example.com")
	if code != 0 || !regexp.MustCompile(`^user \d+: grace@example.com \(roles: user\)\n$`).MatchString(out) || errOut != "" {
		t.Errorf("user roles without a change = %d, want the roles shown:\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--add", "dev", "--add", "editors"}, "grace@example.com (roles: dev, editors, user; granted dev, editors)"},
		{[]string{"--add", "dev"}, "grace@example.com (roles: dev, editors, user; no change)"},
		{[]string{"--remove", "editors, dev"}, "grace@example.com (roles: user; took away dev, editors)"},
		{[]string{"--add", "dev,editors", "--remove", "admin"}, "grace@example.com (roles: dev, editors, user; granted dev, editors)"},
		{[]string{"--remove", "admin"}, "admin@example.com (roles: user; took away admin)"},
	} {
		email := "grace@example.com"
		if strings.HasPrefix(tc.want, "admin@") {
			email = "admin@example.com"
		}
		args := append([]string{"user", "roles", "--email", email}, tc.args...)
		if code, out, errOut := run(t, "", args...); code != 0 || !strings.Contains(out, tc.want) || errOut != "" {
			t.Errorf("manage %v = %d, want %q:\n%s%s", args, code, tc.want, out, errOut)
		}
	}
	fails(t, "", "unknown role wizard (the roles are admin, dev, editors, user; `manage role add NAME` makes another)", "user", "roles", "--email", "grace@example.com", "--add", "wizard")
	fails(t, "", "unknown role wizard", "user", "roles", "--email", "grace@example.com", "--remove", "wizard")
	fails(t, "", "user not found", "user", "roles", "--email", "nobody@example.com", "--add", "dev")
	fails(t, "", "user not found", "user", "roles", "--email", "nobody@example.com")
	fails(t, "", "every account keeps the user role", "user", "roles", "--email", "grace@example.com", "--remove", "user")
	// ada is the last admin now.
	fails(t, "", "the site must keep at least one active admin", "user", "roles", "--email", "ada@example.com", "--remove", "admin")

	for _, args := range [][]string{
		{"user", "roles"}, {"user", "roles", "--email", "ada@example.com", "extra"},
		{"user", "roles", "--email", "ada@example.com", "--add"}, {"user", "roles", "--email", "ada@example.com", "--add", ""},
		{"user", "roles", "--email", "ada@example.com", "--remove", "dev,,editors"},
		{"user", "roles", "--email", "ada@example.com", "--add", "dev", "--remove", "editors,dev"},
		{"user", "roles", "--email", "ada@example.com", "--role", "dev"},
		{"user"}, {"user", "frob"}, {"role"}, {"role", "delete", "editors"}, {"role", "add"}, {"role", "add", "a", "b"},
		{"user", "create"}, {"user", "create", "--email"}, {"user", "create", "--email", "x@example.com", "extra"},
		{"user", "create", "--email", "x@example.com", "--no-such-flag"}, {"user", "reset-password"},
		{"user", "reset-password", "--email", "ada@example.com", "--role", "admin"},
	} {
		if code, out, errOut := run(t, "", args...); code != 2 || !strings.Contains(errOut, "usage:") || strings.Contains(errOut, "panic") {
			t.Errorf("manage %v = %d, want 2 with usage:\n%s%s", args, code, out, errOut)
		}
	}

	// The passwords set through the CLI are the ones that sign in.
	d, err := db.Open(t.Context(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := users.NewService(d)
	for _, tc := range []struct {
		email, password string
		ok              bool
	}{
		{"ada@example.com", "ada-new-password", true},
		{"ada@example.com", adaGenerated, false}, // replaced by reset-password
		{"grace@example.com", "grace-password-1", true},
		{"linus@example.com", "linus-password", true},
		{"weak@example.com", "short", false},
		{"admin@example.com", "seed-password-1", true},   // made by user ensure…
		{"admin@example.com", "another-password", false}, // …and left as it was
	} {
		u, err := svc.SignIn(t.Context(), tc.email, tc.password)
		if (err == nil) != tc.ok {
			t.Errorf("SignIn(%s) = %v, want ok=%v", tc.email, err, tc.ok)
		}
		if err == nil && u.Email != tc.email {
			t.Errorf("SignIn(%s) returned %s", tc.email, u.Email)
		}
	}
	if ada, err := svc.ByEmail(t.Context(), "ada@example.com"); err != nil || !ada.HasRole(users.RoleAdmin) || !ada.HasRole("editors") {
		t.Errorf("ada should be an admin (and so hold every role): %+v, %v", ada, err)
	}
	if linus, err := svc.ByEmail(t.Context(), "linus@example.com"); err != nil || !linus.HasRole("editors") || linus.HasRole(users.RoleAdmin) {
		t.Errorf("linus should hold editors but not admin: %+v, %v", linus, err)
	}
	// The dev role granted by user roles is the one API keys need.
	if grace, err := svc.ByEmail(t.Context(), "grace@example.com"); err != nil {
		t.Error(err)
	} else if _, _, err := svc.CreateAPIKey(t.Context(), grace.ID, "script"); err != nil {
		t.Errorf("an API key for grace after user roles --add dev: %v", err)
	}
	if admin, err := svc.ByEmail(t.Context(), "admin@example.com"); err != nil || admin.HasRole(users.RoleAdmin) {
		t.Errorf("admin@example.com should have lost admin: %+v, %v", admin, err)
	}
}

func TestManageConfigCheckFailsOnBadConfig(t *testing.T) {
	needBinaries(t)
	cmd := exec.Command(filepath.Join(binDir, "manage"), "config", "--check")
	cmd.Dir = t.TempDir()
	cmd.Env = testenv.BinaryEnv("WORKER_CONCURRENCY=lots")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "WORKER_CONCURRENCY (from env)") {
		t.Errorf("config --check with a bad value = %d:\n%s", code, out)
	}
}

func TestSecretLayerSitsBetweenFileAndEnv(t *testing.T) {
	smEnv := testenv.SecretsManager(t, map[string]string{
		"launchkit/test": `{"APP_NAME": "From Secret", "WORKER_CONCURRENCY": "7", "MAIL_PASSWORD": "mail-pw-8f3a9c2e"}`,
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	yaml := "APP_NAME: From File\nWORKER_CONCURRENCY: 3\nMAIL_PORT: 2525\nAWS_SECRETS_MANAGER_CONFIG: launchkit/test\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(smEnv, "WORKER_CONCURRENCY=9", "DATABASE_URL=sqlite://app.db")

	cmd, _ := binary(t, "manage", []string{"-config", file, "config"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("manage config: %v\n%s", err, out)
	}
	for _, row := range []string{
		`APP_NAME\s+\[redacted\]\s+secret:launchkit/test`, // secret beats file; its value is never printed
		`WORKER_CONCURRENCY\s+9\s+env`,                    // env beats secret
		`MAIL_PORT\s+2525\s+file:` + regexp.QuoteMeta(file),
		`MAIL_PASSWORD\s+\[redacted\]\s+secret:launchkit/test`,
		`ADDR\s+:8000\s+default`,
	} {
		if !regexp.MustCompile(row).Match(out) {
			t.Errorf("manage config lacks a row matching %s:\n%s", row, out)
		}
	}
	if strings.Contains(string(out), "mail-pw-8f3a9c2e") || strings.Contains(string(out), "From Secret") {
		t.Errorf("manage config printed a secret value:\n%s", out)
	}

	// The web process uses the secret's value.
	webCmd, _ := binary(t, "web", []string{"-config", file}, append(env, "ADDR=127.0.0.1:0")...)
	p := testenv.Start(t, webCmd)
	if _, body := get(t, p.WaitListening()+"/"); !strings.Contains(body, "<h1>From Secret</h1>") {
		t.Errorf("home page does not show the APP_NAME from the secret:\n%s", body)
	}
}

func TestSecretFailuresStopStartUpNamingTheSecret(t *testing.T) {
	smEnv := testenv.SecretsManager(t, map[string]string{"launchkit/bad": "just: [a broken"})
	for _, tc := range []struct {
		name, secret, want string
		env                []string
	}{
		{"missing", "launchkit/missing", "not found", nil},
		{"denied", "denied/launchkit", "access denied", nil},
		{"not an object", "launchkit/bad", "not valid YAML", nil},
		{"unreachable endpoint", "launchkit/any", "unreachable", []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(append(slicesClone(smEnv), "AWS_SECRETS_MANAGER_CONFIG="+tc.secret, "AWS_SECRETS_TIMEOUT=5s", "ADDR=127.0.0.1:0"), tc.env...)
			for _, bin := range []string{"web", "worker", "manage"} {
				var args []string
				if bin == "manage" {
					args = []string{"config", "--check"}
				}
				cmd, _ := binary(t, bin, args, env...)
				p := testenv.Start(t, cmd)
				if code := p.Wait(30 * time.Second); code != 1 {
					t.Fatalf("%s exit code %d, want 1:\n%s", bin, code, p.Output())
				}
				out := p.Output()
				if !strings.Contains(out, `secret "`+tc.secret+`"`) || !strings.Contains(out, tc.want) || !strings.Contains(out, "AWS_SECRETS_MANAGER_CONFIG (from env)") {
					t.Errorf("%s: message should name the secret and say %q:\n%s", bin, tc.want, out)
				}
				if strings.Contains(out, "panic") || strings.Contains(out, "a broken") {
					t.Errorf("%s: panicked or quoted the payload:\n%s", bin, out)
				}
			}
		})
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func TestSecretsNeverReachTheLogs(t *testing.T) {
	redisPassword := "redis-pw-5d1e7b90"
	secretKey := "sk-4c0ffee4c0ffee4c0ffee4c0ffee4c0ffee"
	mailPassword := "mail-pw-77aa19c3"
	for _, mode := range []string{"development", "production"} {
		t.Run(mode, func(t *testing.T) {
			r := miniredis.RunT(t)
			r.RequireAuth(redisPassword)
			dir := t.TempDir()
			secret := fmt.Sprintf(`{"SECRET_KEY": %q, "MAIL_PASSWORD": %q, "REDIS_URL": "redis://:%s@%s/0"}`, secretKey, mailPassword, redisPassword, r.Addr())
			env := append(testenv.SecretsManager(t, map[string]string{"launchkit/prod": secret}),
				"AWS_SECRETS_MANAGER_CONFIG=launchkit/prod", "ENV="+mode, "ALLOW_SQLITE_IN_PRODUCTION=true",
				"DATABASE_URL=sqlite://"+filepath.Join(dir, "app.db"), "AUTO_MIGRATE=true",
				"MAIL_USERNAME=app", "LOG_LEVEL=debug", "ADDR=127.0.0.1:0")

			webCmd, _ := binary(t, "web", nil, env...)
			web := testenv.Start(t, webCmd)
			base := web.WaitListening()
			for _, path := range []string{"/", "/readyz", "/no-such-page", "/api/v1/x"} {
				get(t, base+path)
			}
			workerCmd, _ := binary(t, "worker", nil, env...)
			worker := testenv.Start(t, workerCmd)
			worker.WaitForOutput(regexp.MustCompile("worker started"), 30*time.Second)
			worker.Terminate()
			web.Terminate()
			worker.Wait(30 * time.Second)
			web.Wait(30 * time.Second)

			manageCmd, _ := binary(t, "manage", []string{"config"}, env...)
			manageOut, _ := manageCmd.CombinedOutput()

			all := web.Output() + worker.Output() + string(manageOut)
			if !strings.Contains(web.Output(), "msg=listening") && !strings.Contains(web.Output(), `"msg":"listening"`) {
				t.Fatalf("web did not start:\n%s", web.Output())
			}
			for _, s := range []string{redisPassword, secretKey, mailPassword} {
				if strings.Contains(all, s) {
					t.Errorf("secret %q appears in the output:\n%s", s, all)
				}
			}
		})
	}
}

// TestLogsStayJSONWhenRedisGoesAway: in production every line the web
// process writes is a JSON log record, including what the Redis client
// has to say when its server disappears.
func TestLogsStayJSONWhenRedisGoesAway(t *testing.T) {
	redisServer := miniredis.RunT(t)
	dir := t.TempDir()
	cmd, _ := binary(t, "web", nil,
		"ENV=production", "SECRET_KEY="+strings.Repeat("k", 40), "ALLOW_SQLITE_IN_PRODUCTION=true", "AUTO_MIGRATE=true",
		"REDIS_URL=redis://"+redisServer.Addr()+"/0", "DATABASE_URL=sqlite://"+filepath.Join(dir, "app.db"), "ADDR=127.0.0.1:0")
	p := testenv.Start(t, cmd)
	base := p.WaitListening()
	redisServer.Close()
	for range 3 {
		if status, _ := get(t, base+"/readyz"); status != http.StatusServiceUnavailable {
			t.Errorf("/readyz with Redis gone = %d, want 503", status)
		}
	}
	p.Terminate()
	p.Wait(30 * time.Second)
	for line := range strings.SplitSeq(strings.TrimSpace(p.Output()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("a line that is not JSON: %q", line)
		}
	}
	if !strings.Contains(p.Output(), `"component":"redis"`) {
		t.Errorf("nothing the Redis client said was logged:\n%s", p.Output())
	}
}

// TestMetricsOnTheirOwnAddress: with METRICS_ADDR the web process serves
// /metrics there, without a token, and not on ADDR.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	cmd, _ := binary(t, "web", nil,
		"ENV=production", "SECRET_KEY="+strings.Repeat("k", 40), "ALLOW_SQLITE_IN_PRODUCTION=true", "AUTO_MIGRATE=true",
		"REDIS_URL=redis://"+miniredis.RunT(t).Addr()+"/0", "DATABASE_URL=sqlite://"+filepath.Join(dir, "app.db"),
		"ADDR=127.0.0.1:0", "METRICS_ADDR="+metricsAddr)
	p := testenv.Start(t, cmd)
	base := p.WaitListening()
	if status, _ := get(t, base+"/metrics"); status != http.StatusNotFound {
		t.Errorf("ADDR's /metrics = %d, want 404", status)
	}
	if status, body := get(t, "http://"+metricsAddr+"/metrics"); status != 200 || !strings.Contains(body, "launchkit_http_requests_total") {
		t.Errorf("METRICS_ADDR's /metrics = %d:\n%.300s", status, body)
	}
	p.Terminate()
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM:\n%s", code, p.Output())
	}
}

// TestNoBuildOutputIsTracked: no file git tracks is a compiled program
// (ELF, Mach-O or PE), and the ignore rules keep the names `go build`
// gives the binaries at the repository root out of commits.
func TestNoBuildOutputIsTracked(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to check", err)
	}
	magics := [][]byte{{0x7f, 'E', 'L', 'F'}, {0xcf, 0xfa, 0xed, 0xfe}, {0xfe, 0xed, 0xfa, 0xcf}, {'M', 'Z'}}
	for name := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the working tree
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		_ = f.Close()
		for _, m := range magics {
			if n >= len(m) && string(head[:len(m)]) == string(m) {
				t.Errorf("%s is a compiled program: build output does not belong in the repository", name)
			}
		}
	}
	mains, err := exec.Command("go", "list", "-C", root, "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(mains)) {
		name := pkg[strings.LastIndex(pkg, "/")+1:]
		if err := exec.Command("git", "-C", root, "check-ignore", "-q", "--no-index", name).Run(); err != nil {
			t.Errorf("`go build %s` leaves ./%s, which .gitignore does not ignore", pkg, name)
		}
	}
}

// TestWorkerServesMetricsAndProfilesOnItsOwnListeners: the worker has no
// site, yet its task metrics are counted in its own process. With
// METRICS_ADDR it serves them (a task it ran shows in
// launchkit_tasks_processed_total); with DEBUG_ADDR=:PORT it serves the
// runtime profiles on 127.0.0.1:PORT only, and nothing else there.
func TestWorkerServesMetricsAndProfilesOnItsOwnListeners(t *testing.T) {
	dir := t.TempDir()
	outbox := filepath.Join(dir, "outbox")
	redisURL := "redis://" + miniredis.RunT(t).Addr() + "/0"
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	debugPort := testenv.FreePort(t)
	env := []string{
		"REDIS_URL=" + redisURL, "DATABASE_URL=sqlite://" + filepath.Join(dir, "app.db"), "MAIL_OUTBOX_DIR=" + outbox,
		"METRICS_ADDR=" + metricsAddr, fmt.Sprintf("DEBUG_ADDR=:%d", debugPort), "DISABLE_SCHEDULER=true",
	}
	migrate, _ := binary(t, "manage", []string{"migrate", "up"}, env...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("manage migrate up: %v\n%s", err, out)
	}
	cmd, _ := binary(t, "worker", nil, env...)
	p := testenv.Start(t, cmd)
	if addr := p.WaitForOutput(regexp.MustCompile(`msg="debug listening" addr=(\S+)`), 30*time.Second); addr != fmt.Sprintf("127.0.0.1:%d", debugPort) {
		t.Fatalf("the worker's debug listener is on %s, want 127.0.0.1:%d (a bare port is loopback only)", addr, debugPort)
	}
	p.WaitForOutput(regexp.MustCompile("worker started"), 30*time.Second)

	rdb, err := redisconn.Open(t.Context(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := jobs.NewClient(rdb).EnqueueMail(t.Context(), mail.Message{To: []string{"ada@example.com"}, Subject: "Counted", Text: "by the worker"}); err != nil {
		t.Fatal(err)
	}
	processed := regexp.MustCompile(`(?m)^launchkit_tasks_processed_total\{result="ok",type="mail:send"\} 1$`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		status, body := get(t, "http://"+metricsAddr+"/metrics")
		if status == http.StatusOK && processed.MatchString(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("METRICS_ADDR's /metrics (%d) never counted the mail:send task:\n%s", status, grepLines(body, "launchkit_tasks"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	debug := fmt.Sprintf("http://127.0.0.1:%d", debugPort)
	if status, body := get(t, debug+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("DEBUG_ADDR's /debug/pprof/ = %d:\n%.300s", status, body)
	}
	if status, _ := get(t, debug+"/metrics"); status != http.StatusNotFound {
		t.Errorf("DEBUG_ADDR's /metrics = %d, want 404: it serves the profiles alone", status)
	}
	if status, _ := get(t, "http://"+metricsAddr+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("METRICS_ADDR's /debug/pprof/ = %d, want 404", status)
	}
	// Reached on another address of this machine, the debug port is closed.
	if ip := nonLoopbackIP(); ip != nil {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), fmt.Sprint(debugPort)), time.Second); err == nil {
			_ = c.Close()
			t.Errorf("DEBUG_ADDR=:%d answers on %s too, not only on loopback", debugPort, ip)
		}
	}
	p.Terminate()
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Errorf("worker exit code %d after SIGTERM:\n%s", code, p.Output())
	}
}

// TestWorkerAddressInUseExitsNamingIt: a worker whose METRICS_ADDR or
// DEBUG_ADDR is taken exits 1 naming the key and the address, before
// taking any task.
func TestWorkerAddressInUseExitsNamingIt(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	redisURL := "redis://" + miniredis.RunT(t).Addr() + "/0"
	for _, key := range []string{"METRICS_ADDR", "DEBUG_ADDR"} {
		t.Run(key, func(t *testing.T) {
			cmd, dir := binary(t, "worker", nil, "REDIS_URL="+redisURL, key+"="+addr)
			cmd.Env = append(cmd.Env, "DATABASE_URL=sqlite://"+filepath.Join(dir, "app.db"))
			p := testenv.Start(t, cmd)
			if code := p.Wait(60 * time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", code, p.Output())
			}
			want := "worker: " + key + " " + addr + ": listen tcp " + addr + ": bind: address already in use"
			if out := p.Output(); !strings.Contains(out, want) || strings.Contains(out, "worker started") {
				t.Errorf("output lacks %q (or the worker started):\n%s", want, out)
			}
		})
	}
}

// nonLoopbackIP is an IPv4 address of this machine other than loopback,
// or nil when it has none.
func nonLoopbackIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return nil
}

// grepLines is the lines of s holding substr, for a failure message.
func grepLines(s, substr string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
