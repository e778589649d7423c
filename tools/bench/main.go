// Command bench measures Launchkit end to end and writes the results to
// docs/benchmarks.md. Every number is set beside a baseline measured in
// the same run on the same machine, because ratios, not absolute times,
// are what compare across machines and over time:
//
//   - load over loopback against the built binaries in the production
//     shape (ENV=production, Redis for jobs): anonymous home, signed-in
//     home on each session store, an API call with a bearer key — against
//     a bare net/http hello and a minimal chi + scs session page;
//   - enqueue→done throughput of the worker against a bare asynq server
//     on the same Redis;
//   - start → first 200 on a fresh and on a migrated database, idle and
//     peak RSS (during the signed-in run, a burst of 20 concurrent
//     sign-ins and 10 concurrent uploads of a 10 MiB profile picture),
//     binary sizes and what bin/web's code is made of;
//   - the cold first build of make run beside that of a plain chi
//     program (-builds=false leaves these out: they take minutes);
//   - the signed-in page with tracing off and with every request traced
//     and exported to an OTLP receiver in this process, taking turns;
//   - the in-process cost of each layer of the handler stack.
//
// It needs only Go. PostgreSQL and a real Redis are used when
// TEST_DATABASE_URL and TEST_REDIS_URL are set (their rows say "skipped"
// otherwise); without TEST_REDIS_URL an in-process Redis stands in.
//
//	make bench                 (go run ./tools/bench)
//	go run ./tools/bench -duration 3s -builds=false -o -    (a quick look, to stdout)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the knobs of one run.
type options struct {
	conns    int
	warmup   time.Duration
	duration time.Duration
	tasks    int
	starts   int
	out      string
	micro    bool
	builds   bool
	ui       bool
	renders  int // recorded first renders of each version
	// tracingRounds is how many times each web of the tracing step is
	// loaded. The two take turns (off, on, then on, off…), so a stretch
	// of the machine being busy falls on both alike; the ratio of each
	// pair is what is reported, its median and range.
	tracingRounds int
	only          string // comma-separated steps to run, "" for all that are on
}

func defaultOptions() options {
	return options{conns: 32, warmup: 2 * time.Second, duration: 10 * time.Second, tasks: 2000, starts: 5, out: "docs/benchmarks.md", micro: true, builds: true, ui: true, renders: 9, tracingRounds: 6}
}

func main() {
	opts := defaultOptions()
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.IntVar(&opts.conns, "conns", opts.conns, "connections of each load run")
	fs.DurationVar(&opts.warmup, "warmup", opts.warmup, "unrecorded warm-up of each load run")
	fs.DurationVar(&opts.duration, "duration", opts.duration, "recorded length of each load run")
	fs.IntVar(&opts.tasks, "tasks", opts.tasks, "tasks of each enqueue→done run")
	fs.IntVar(&opts.starts, "starts", opts.starts, "start-ups timed for each start row (the median is reported)")
	fs.StringVar(&opts.out, "o", opts.out, `markdown report to write ("-": standard output only)`)
	fs.BoolVar(&opts.micro, "micro", opts.micro, "also measure the in-process per-request costs")
	fs.BoolVar(&opts.builds, "builds", opts.builds, "also time cold first builds (minutes) and break bin/web down by module")
	fs.BoolVar(&opts.ui, "ui", opts.ui, "also weigh the signed-in page's CSS, JS and fonts and time its first render in Chromium, beside BENCH_UI_BASE")
	fs.IntVar(&opts.renders, "renders", opts.renders, "first renders timed for each version (the median is reported)")
	fs.IntVar(&opts.tracingRounds, "tracing-rounds", opts.tracingRounds, "rounds of the tracing step: each loads the untraced and the traced web once, in turns")
	fs.StringVar(&opts.only, "only", opts.only, "run only these steps, comma-separated: "+strings.Join(stepNames, ","))
	_ = fs.Parse(os.Args[1:])
	for _, name := range strings.Split(opts.only, ",") {
		if name != "" && !slices.Contains(stepNames, name) {
			fmt.Fprintf(os.Stderr, "bench: no step %q in -only (the steps: %s)\n", name, strings.Join(stepNames, ","))
			os.Exit(2)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, opts, os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	md := rep.markdown(commandLine(os.Args[1:]))
	if opts.out == "-" {
		fmt.Print(md)
		return
	}
	if err := os.WriteFile(opts.out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "bench: wrote", opts.out)
	fmt.Print(rep.targetsTable())
}

// commandLine is the exact command a reader can rerun.
func commandLine(args []string) string {
	if len(args) == 0 {
		return "make bench"
	}
	return "go run ./tools/bench " + strings.Join(args, " ")
}

// run measures everything and returns the report. progress gets a line
// per finished measurement.
func run(ctx context.Context, opts options, getenv func(string) string, progress io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "launchkit-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b := &bench{opts: opts, dir: dir, getenv: getenv, progress: progress, rep: newReport(opts)}
	defer b.cleanup()
	fmt.Fprintln(progress, "bench: building the binaries")
	if b.bin, err = binaries(ctx, dir); err != nil {
		return nil, err
	}
	if err := b.binarySizes(); err != nil {
		return nil, err
	}
	if err := b.openRedis(ctx); err != nil {
		return nil, err
	}
	steps := map[string][]func(context.Context) error{
		"load": {b.loadRuns}, "jobs": {b.jobRuns}, "start": {b.startRuns}, "burst": {b.signInBurst}, "upload": {b.uploadBurst},
		"tracing": {b.tracingRuns}, "micro": {b.microRuns}, "ui": {b.uiRuns}, "builds": {b.webModules, b.coldBuilds},
	}
	for _, name := range stepNames {
		if !opts.runs(name) {
			continue
		}
		for _, step := range steps[name] {
			if err := step(ctx); err != nil {
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	return b.rep, nil
}

// stepNames are the parts of a run, in the order they run.
var stepNames = []string{"load", "tracing", "jobs", "start", "burst", "upload", "micro", "ui", "builds"}

// runs is whether the step name is part of this run: the -only list when
// given, else every step whose flag is on.
func (o options) runs(name string) bool {
	if o.only != "" {
		return slices.Contains(strings.Split(o.only, ","), name)
	}
	switch name {
	case "micro":
		return o.micro
	case "ui":
		return o.ui
	case "builds":
		return o.builds
	}
	return true
}
