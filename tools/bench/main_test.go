package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBenchRuns runs the whole bench briefly: every row must be measured
// (or say why it was skipped) and every request must have got the status
// it expects. How fast anything is, is make bench's business, not a test's.
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every binary and starts a dozen processes: not in -short")
	}
	opts := options{conns: 4, warmup: 50 * time.Millisecond, duration: 300 * time.Millisecond, tasks: 20, starts: 1, out: "-", ui: true, renders: 1, tracingRounds: 2}
	var progress strings.Builder
	// The interface is measured alone: building another version is make bench's.
	getenv := func(k string) string {
		if k == "BENCH_UI_BASE" {
			return "-"
		}
		return ""
	}
	rep, err := run(t.Context(), opts, getenv, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	md := rep.markdown("go test")
	for _, want := range []string{
		"baseline: net/http hello", "baseline: chi + scs", "anonymous home",
		"signed-in home, database store on SQLite (default)", "signed-in home, memory store",
		"redis store | skipped: TEST_REDIS_URL is not set", "PostgreSQL | skipped: TEST_DATABASE_URL is not set",
		"/api/v1/me", "bare asynq", "mail:send", "fresh database", "migrated database", "idle RSS",
		"20 concurrent sign-ins", "10 concurrent uploads of a 10.0 MiB PNG", "`bin/web`", "## Targets",
		"## Interface weight and first render", "**CSS + JS + fonts**", "baseline | skipped: BENCH_UI_BASE is -",
		"CSS + JS + fonts of the signed-in home, compressed | ≤ 60 KiB", "session-store writes during the steady run: memory store | 0 | 0 | yes",
		"## Tracing", "| tracing on, every request sampled and exported |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report has no %q:\n%s", want, md)
		}
	}
	if u := rep.upload; !u.ok() {
		t.Errorf("%d of %d uploads answered 303 (first failure: %v), %d objects stored", u.seeOther, u.n, u.firstErr, u.stored)
	}
	for _, l := range rep.load {
		if l.skipped == "" && l.res.errors > 0 {
			t.Errorf("%s: %d failed requests, first: %v", l.name, l.res.errors, l.res.firstErr)
		}
	}
}

// TestCodeByModule: the breakdown of bin/web sums each code symbol into
// its module (a module's packages, methods and generic instances
// together), leaves data out, and puts the largest first.
func TestCodeByModule(t *testing.T) {
	nm := `  4866c0       2995 T runtime.typesEqual
  83df40      18597 T github.com/redis/go-redis/v9.ExtractCommandValue
  8c64a0      14533 T github.com/redis/go-redis/v9.cmdable.FTCreate
  8912a0      11442 T github.com/redis/go-redis/v9/internal/pool.(*ConnPool).Get
  10e8040      76684 T modernc.org/sqlite/lib._sqlite3VdbeExec
  1619c00      19224 T github.com/aws/aws-sdk-go-v2/service/secretsmanager/schemas.init.0
  1619d00        100 T github.com/aws/aws-sdk-go-v2/aws.NewConfig
  2300ac0       3712 R github.com/maypok86/otter/v2..dict.cache[string,github.com/launchkit/launchkit/internal/cache.entry]
  2300bc0        900 T github.com/maypok86/otter/v2.(*Cache[go.shape.string,github.com/launchkit/launchkit/internal/cache.entry]).Get
  2300cc0         60 T type:.eq.gorm.io/driver/mysql.Config
  2300dc0        400 T google.golang.org/protobuf/internal/impl.(*MessageInfo).init
  661b20      21782 T vendor/golang.org/x/crypto/chacha20poly1305.chacha20Poly1305Seal.abi0
  3483540   33554432 D crypto/internal/fips140/drbg.memory
`
	got := codeByModule([]byte(nm))
	want := []moduleSize{
		{"modernc.org/sqlite", 76684},
		{"github.com/redis/go-redis", 18597 + 14533 + 11442},
		{"standard library", 2995 + 21782},
		{"github.com/aws (the AWS SDK: aws-sdk-go-v2, smithy-go)", 19224 + 100},
		{"github.com/maypok86/otter", 900},
		{"gorm.io/driver/mysql", 60},
		{"google.golang.org/protobuf", 400},
	}
	slices.SortFunc(want, func(a, b moduleSize) int { return int(b.bytes - a.bytes) })
	if !slices.Equal(got, want) {
		t.Errorf("codeByModule =\n%v\nwant\n%v", got, want)
	}
	table := modulesTable(got, 2)
	for _, row := range []string{"| modernc.org/sqlite | 0.07 MiB | 46 % |", "| 5 others |", "| all code | 0.16 MiB | |"} {
		if !strings.Contains(table, row) {
			t.Errorf("the table has no %q:\n%s", row, table)
		}
	}
}

// TestPlainChiProgramBuildsFromTheModuleCache: the program the cold build
// of cmd/web is set beside is a module of its own on Launchkit's chi
// version, built without asking any proxy.
func TestPlainChiProgramBuildsFromTheModuleCache(t *testing.T) {
	dir, err := plainChi(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/go-chi/chi/v5").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "require github.com/go-chi/chi/v5 " + strings.TrimSpace(string(out)); !strings.Contains(string(mod), want) {
		t.Errorf("go.mod has no %q:\n%s", want, mod)
	}
	if _, err := goBuild(t.Context(), dir, []string{"GOFLAGS=-mod=readonly", "GOPROXY=off"}, "-o", filepath.Join(t.TempDir(), "plainchi"), "."); err != nil {
		t.Fatal(err)
	}
}
