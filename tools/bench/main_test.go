package main

import (
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
	opts := options{conns: 4, warmup: 50 * time.Millisecond, duration: 300 * time.Millisecond, tasks: 20, starts: 1, out: "-"}
	var progress strings.Builder
	rep, err := run(t.Context(), opts, func(string) string { return "" }, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	md := rep.markdown("go test")
	for _, want := range []string{
		"baseline: net/http hello", "baseline: chi + scs", "anonymous home",
		"signed-in home, database store on SQLite (default)", "signed-in home, memory store",
		"redis store | skipped: TEST_REDIS_URL is not set", "PostgreSQL | skipped: TEST_DATABASE_URL is not set",
		"/api/v1/me", "bare asynq", "mail:send", "fresh database", "migrated database", "idle RSS",
		"20 concurrent sign-ins", "`bin/web`", "## Targets", "session-store writes during the steady run: memory store | 0 | 0 | yes",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report has no %q:\n%s", want, md)
		}
	}
	for _, l := range rep.load {
		if l.skipped == "" && l.res.errors > 0 {
			t.Errorf("%s: %d failed requests, first: %v", l.name, l.res.errors, l.res.firstErr)
		}
	}
}
