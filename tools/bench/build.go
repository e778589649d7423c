package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// coldBuild is one cold first build: the command make run starts with,
// on an empty build cache (the module cache is warm: every dependency is
// downloaded, none compiled).
type coldBuild struct {
	name      string
	wall, cpu time.Duration // cpu: user + system, of go and the compilers it ran
}

// plainChiSource is the program the cold build of cmd/web is set beside:
// a chi router with one handler, on the chi version Launchkit uses.
const plainChiSource = `package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func main() {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("Hello, world")) })
	_ = http.ListenAndServe(":8000", r)
}
`

// plainChi writes the plain chi program as a module of its own under dir
// and returns its directory. Its go.sum lines for chi are Launchkit's, so
// the build reads chi from the module cache and asks no proxy.
func plainChi(dir string) (string, error) {
	root := moduleRoot()
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", err
	}
	const chi = "github.com/go-chi/chi/v5 "
	var version string
	var sum strings.Builder
	for line := range strings.Lines(string(sums)) {
		if strings.HasPrefix(line, chi) {
			sum.WriteString(line)
			if v := strings.Fields(line)[1]; !strings.HasSuffix(v, "/go.mod") {
				version = v
			}
		}
	}
	if version == "" {
		return "", fmt.Errorf("go.sum has no %s", strings.TrimSpace(chi))
	}
	src := filepath.Join(dir, "plainchi")
	files := map[string]string{
		"go.mod":  fmt.Sprintf("module example.com/plainchi\n\ngo 1.26\n\nrequire %s%s\n", chi, version),
		"go.sum":  sum.String(),
		"main.go": plainChiSource,
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	return src, nil
}

// goBuild runs go build with args in dir, with env added to this
// process's environment, and returns how long it took.
func goBuild(ctx context.Context, dir string, env []string, args ...string) (coldBuild, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return coldBuild{}, fmt.Errorf("go build %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return coldBuild{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// coldBuilds times make run's first build of cmd/web on an empty build
// cache, and the same build of the plain chi program; then records the
// sizes the production ones are set beside: web without -tags nodev (as
// make run builds it) and the plain chi program, both built as make build
// builds (static, trimmed, stripped).
func (b *bench) coldBuilds(ctx context.Context) error {
	chiDir, err := plainChi(b.dir)
	if err != nil {
		return err
	}
	for _, c := range []struct{ name, dir, pkg string }{
		{"plain chi program (one route)", chiDir, "."},
		{"Launchkit `./cmd/web` (`make run`)", moduleRoot(), "./cmd/web"},
	} {
		cache, err := os.MkdirTemp(b.dir, "gocache-")
		if err != nil {
			return err
		}
		b.logf("cold build of %s (empty build cache)", c.name)
		run, err := goBuild(ctx, c.dir, []string{"GOCACHE=" + cache, "GOFLAGS=-mod=readonly", "GOPROXY=off"}, "-o", filepath.Join(b.dir, "cold-"+filepath.Base(cache)), c.pkg)
		_ = os.RemoveAll(cache)
		if err != nil {
			return err
		}
		run.name = c.name
		b.rep.cold = append(b.rep.cold, run)
		b.logf("  %s wall, %s CPU", run.wall.Round(100*time.Millisecond), run.cpu.Round(100*time.Millisecond))
	}
	prod := []string{"CGO_ENABLED=0"}
	for _, c := range []struct{ name, dir, pkg string }{
		{"`web` without `-tags nodev` (as `make run` builds it)", moduleRoot(), "./cmd/web"},
		{"plain chi program (one route)", chiDir, "."},
	} {
		out := filepath.Join(b.dir, "size-"+strconv.Itoa(len(b.rep.sizes)))
		if _, err := goBuild(ctx, c.dir, prod, "-trimpath", "-ldflags=-s -w", "-o", out, c.pkg); err != nil {
			return err
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		b.rep.sizes = append(b.rep.sizes, sizeRow{name: c.name, bytes: fi.Size()})
	}
	return nil
}

// moduleSize is how much machine code of bin/web one module brings.
type moduleSize struct {
	module string
	bytes  int64
}

// webModules breaks bin/web's machine code down by module, from the
// symbol table of a build as make build's but not stripped: the largest
// first. Code is about 40 % of the file; the function tables that go with
// it grow in step, while embedded files and type data are not counted.
func (b *bench) webModules(ctx context.Context) error {
	out := filepath.Join(b.dir, "web-symbols")
	if _, err := goBuild(ctx, moduleRoot(), []string{"CGO_ENABLED=0"}, "-tags", "nodev", "-trimpath", "-o", out, "./cmd/web"); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "nm", "-size", out)
	nm, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go tool nm: %w", err)
	}
	b.rep.modules = codeByModule(nm)
	return nil
}

// codeByModule sums the sizes of the text (code) symbols of go tool nm
// -size output by the module, or standard library, they belong to.
func codeByModule(nm []byte) []moduleSize {
	sums := map[string]int64{}
	for line := range strings.Lines(string(nm)) {
		f := strings.Fields(line)
		if len(f) < 4 || (f[2] != "T" && f[2] != "t") {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		sums[moduleOf(strings.Join(f[3:], " "))] += size
	}
	var out []moduleSize
	for m, n := range sums {
		out = append(out, moduleSize{m, n})
	}
	slices.SortFunc(out, func(a, b moduleSize) int { return int(b.bytes - a.bytes) })
	return out
}

// moduleOf names the module a symbol belongs to, as far as its package
// path tells: the first three path elements for a host that serves
// modules at owner/name (github.com/owner/name), the first two for the
// others (gorm.io/gorm, modernc.org/sqlite; gorm.io/driver/mysql), the AWS SDK's service and
// feature modules by their own name, and "standard library" for a path
// without a dot in its first element.
func moduleOf(symbol string) string {
	pkg, _, _ := strings.Cut(strings.TrimPrefix(symbol, "type:.eq."), "[")
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		if j := strings.IndexByte(pkg[i:], '.'); j >= 0 {
			pkg = pkg[:i+j]
		}
	} else if j := strings.IndexByte(pkg, '.'); j >= 0 {
		pkg = pkg[:j]
	}
	parts := strings.Split(pkg, "/")
	if !strings.Contains(parts[0], ".") {
		return "standard library"
	}
	if len(parts) > 1 && parts[0] == "github.com" && parts[1] == "aws" {
		return "github.com/aws (the AWS SDK: aws-sdk-go-v2, smithy-go)"
	}
	n := 2
	switch parts[0] {
	case "github.com", "golang.org":
		n = 3
	case "gorm.io":
		if len(parts) > 1 && (parts[1] == "driver" || parts[1] == "plugin") {
			n = 3
		}
	}
	return strings.Join(parts[:min(n, len(parts))], "/")
}

// modulesTable is the largest modules of bin/web as markdown rows, the
// rest summed in one.
func modulesTable(mods []moduleSize, top int) string {
	var w strings.Builder
	var total int64
	for _, m := range mods {
		total += m.bytes
	}
	fmt.Fprintf(&w, "| module | code | share |\n|---|--:|--:|\n")
	var rest int64
	for i, m := range mods {
		if i >= top {
			rest += m.bytes
			continue
		}
		fmt.Fprintf(&w, "| %s | %.2f MiB | %.0f %% |\n", m.module, float64(m.bytes)/(1<<20), 100*float64(m.bytes)/float64(total))
	}
	if rest > 0 {
		fmt.Fprintf(&w, "| %d others | %.2f MiB | %.0f %% |\n", len(mods)-top, float64(rest)/(1<<20), 100*float64(rest)/float64(total))
	}
	fmt.Fprintf(&w, "| all code | %.2f MiB | |\n", float64(total)/(1<<20))
	return w.String()
}
