package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/testenv"
)

// TestMakeDevRebuildsAndRestartsOnChanges runs make dev's command, `go
// tool air` with the repository's .air.toml, in a copy of the tree: a
// change to Go code is served by a rebuilt process, a new migration is
// applied by the restarted one, and Ctrl-C (SIGINT) stops air and the
// app with it, the app shutting down cleanly.
func TestMakeDevRebuildsAndRestartsOnChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds air and the web binary and waits for rebuilds: not in -short")
	}
	root := testenv.CopyRepo(t, "../..")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command("go", "tool", "air")
	cmd.Dir = root
	for _, kv := range os.Environ() {
		// The app's own defaults, as make dev has them on a fresh clone.
		if k, _, _ := strings.Cut(kv, "="); k != "APP_NAME" && k != "APPLICATION_SETTINGS" && k != "ENV" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADDR="+addr)
	p := testenv.Start(t, cmd)
	t.Cleanup(func() { stopAir(t, p) }) // runs before Start's kill

	// homeShows reports whether the home page shows want; it fails the
	// test at once if air has exited.
	homeShows := func(want string) bool {
		if !p.Running() {
			t.Fatalf("go tool air exited:\n%s", p.Output())
		}
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), want)
	}
	// The first start builds air itself, then the app.
	testenv.WaitUntil(t, "the app started by air to answer", 10*time.Minute, 200*time.Millisecond, func() bool {
		return homeShows("Launchkit")
	})

	// A Go change: the default product name, shown on the home page.
	config := filepath.Join(root, "internal", "config", "config.go")
	src, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	const before, after = `key:"APP_NAME" default:"Launchkit"`, `key:"APP_NAME" default:"Rebuilt by air"`
	if !strings.Contains(string(src), before) {
		t.Fatalf("internal/config/config.go has no %s to change", before)
	}
	if err := os.WriteFile(config, []byte(strings.Replace(string(src), before, after, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitUntil(t, "the rebuilt app to show the new name", 5*time.Minute, 200*time.Millisecond, func() bool {
		return homeShows("Rebuilt by air")
	})

	// A new migration: embedded, so only a rebuilt binary applies it.
	migration := filepath.Join(root, "migrations", "sqlite", "99999_dev_loop_check.sql")
	sql := "-- +goose Up\nCREATE TABLE dev_loop_check (id INTEGER);\n\n-- +goose Down\nDROP TABLE dev_loop_check;\n"
	if err := os.WriteFile(migration, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	p.WaitForOutput(regexp.MustCompile(`msg="database migrated" applied=1 `), 5*time.Minute)

	stopAir(t, p)
	if out := p.Output(); !strings.Contains(out, "msg=\"web stopped\"") {
		t.Errorf("the app did not shut down cleanly on Ctrl-C:\n%s", out)
	}
	testenv.WaitUntil(t, "the app's port to close", 30*time.Second, 100*time.Millisecond, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	})
	if _, err := os.Stat(filepath.Join(root, "tmp")); err == nil {
		t.Error("air left its build directory tmp/ behind")
	}
}

// stopAir sends Ctrl-C's SIGINT (go tool passes it on to air, which
// interrupts the app) and waits for air to exit.
func stopAir(t *testing.T, p *testenv.Process) {
	t.Helper()
	if !p.Running() {
		return
	}
	p.Signal(t, syscall.SIGINT)
	// air gives the app kill_delay (20s) before it kills it.
	if code := p.Wait(60 * time.Second); code != 0 {
		t.Errorf("air exited %d after SIGINT", code)
	}
}
