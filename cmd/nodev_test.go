package cmd_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/launchkit/launchkit/internal/testenv"
)

// devMailPage is a function of the development tools (internal/web's
// devmail.go): present in a default build, absent from a nodev one.
const devMailPage = "github.com/launchkit/launchkit/internal/web.(*Server).devMailPage"

// testOnlyPackages are packages no binary may link: test helpers and the
// standard library's test support.
var testOnlyPackages = []string{
	"testing", "net/http/httptest",
	"github.com/launchkit/launchkit/internal/testenv",
	"github.com/launchkit/launchkit/internal/devdirectory",
}

// TestProductionBuildLeavesOutDevelopmentCode: make build tags its
// binaries nodev, and a nodev web has no development tools, neither their
// code nor their pages (/dev is a 404 even with ENV=development); no build
// links a test-only package.
func TestProductionBuildLeavesOutDevelopmentCode(t *testing.T) {
	needBinaries(t)
	plan, err := exec.Command("make", "-n", "-C", "..", "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, plan)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(plan)), "\n") {
		if strings.Contains(line, "go build") && !strings.Contains(line, "-tags nodev") {
			t.Errorf("make build builds without -tags nodev: %s", line)
		}
	}

	dir := t.TempDir()
	build := exec.Command("go", "build", "-tags", "nodev", "-trimpath", "-o", dir+string(filepath.Separator), "./web")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nodev: %v\n%s", err, out)
	}
	if !hasSymbol(t, filepath.Join(binDir, "web"), devMailPage) {
		t.Fatalf("the default web binary has no %s: the name this test looks for is out of date", devMailPage)
	}
	if hasSymbol(t, filepath.Join(dir, "web"), devMailPage) {
		t.Errorf("the nodev web binary links the development tools (%s)", devMailPage)
	}

	for _, tags := range []string{"", "nodev"} {
		out, err := exec.Command("go", "list", "-deps", "-tags", tags, "./web", "./worker", "./manage").Output()
		if err != nil {
			t.Fatalf("go list -deps -tags %q: %v", tags, err)
		}
		deps := strings.Fields(string(out))
		for _, p := range testOnlyPackages {
			if slices.Contains(deps, p) {
				t.Errorf("a build with tags %q links the test-only package %s", tags, p)
			}
		}
	}

	cmd := exec.Command(filepath.Join(dir, "web"))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "ENV=development", "ADDR=127.0.0.1:0",
		"REDIS_URL=redis://" + miniredis.RunT(t).Addr() + "/0"}
	p := testenv.Start(t, cmd)
	base := p.WaitListening()
	if status, _ := get(t, base+"/healthz"); status != 200 {
		t.Errorf("GET /healthz = %d, want 200", status)
	}
	for _, path := range []string{"/dev", "/dev/mail"} {
		if status, _ := get(t, base+path); status != 404 {
			t.Errorf("GET %s of a nodev build in development = %d, want 404", path, status)
		}
	}
	p.Terminate()
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// hasSymbol reports whether the binary at path defines the symbol name.
func hasSymbol(t *testing.T, path, name string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("symbols of %s: %v", path, err)
	}
	return slices.ContainsFunc(syms, func(s elf.Symbol) bool { return s.Name == name })
}
