package main

import (
	"flag"
	"strings"
	"testing"
)

// TestBenchRuns runs every scenario a few times: the statuses must be the
// expected ones and every row must be printed. Timing is make bench's job.
func TestBenchRuns(t *testing.T) {
	if err := flag.Set("test.benchtime", "20x"); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios {
		if !strings.Contains(out.String(), s.name) {
			t.Errorf("no row for %q:\n%s", s.name, out.String())
		}
	}
}
