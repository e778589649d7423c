package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// loadRow is one load run in the report.
type loadRow struct {
	id, name string
	res      loadResult
	peakKiB  int64
	// writes is how many session-store writes the site counted during
	// the run, or -1 when not measured.
	writes  int64
	skipped string
}

// jobRow is one enqueue→done run.
type jobRow struct {
	name string
	run  jobRun
}

// burstResult is the concurrent sign-in burst.
type burstResult struct {
	n             int
	wall, slowest time.Duration
	peakKiB       int64
}

type sizeRow struct {
	name  string
	bytes int64
}

// report is everything one run measured.
type report struct {
	opts          options
	when          time.Time
	load          []loadRow
	jobs          []jobRow
	startFresh    []time.Duration
	startMigrated []time.Duration
	idle          []memory
	floor         memory
	burst         burstResult
	upload        uploadResult
	sizes         []sizeRow
	cold          []coldBuild
	modules       []moduleSize
	micro         string
	ui            []*uiVersion
	tracing       *tracingResult
}

func newReport(opts options) *report { return &report{opts: opts, when: time.Now().UTC()} }

// idleMedian is the idle memory of the start with the median RSS.
func (r *report) idleMedian() memory {
	s := slices.Clone(r.idle)
	slices.SortFunc(s, byRSS)
	return s[len(s)/2]
}

// skip records a row that could not run here, and why.
func (r *report) skip(id, name, why string) {
	r.load = append(r.load, loadRow{id: id, name: name, skipped: why, writes: -1})
}

// row returns the measured load row id, or nil.
func (r *report) row(id string) *loadRow {
	for i := range r.load {
		if r.load[i].id == id && r.load[i].skipped == "" {
			return &r.load[i]
		}
	}
	return nil
}

// target is one goal of the fast-path work and whether this run met it.
type target struct {
	what, goal, measured string
	met                  bool
}

// targets compares the run with the goals the README states.
func (r *report) targets() []target {
	var ts []target
	anon, signed, page := r.row(rowAnonymous), r.row(rowSignedDefault), r.row(rowSessionPage)
	if anon != nil && signed != nil {
		x := signed.res.perSecond() / anon.res.perSecond()
		ts = append(ts, target{"signed-in home (default settings) vs anonymous home", "≥ 0.4×", fmt.Sprintf("%.2f×", x), x >= 0.4})
		p := float64(signed.res.latencies.quantile(0.99)) / float64(anon.res.latencies.quantile(0.99))
		ts = append(ts, target{"p99 of the signed-in run vs the anonymous run", "≤ 3×", fmt.Sprintf("%.2f×", p), p <= 3})
	}
	if page != nil && signed != nil {
		x := signed.res.perSecond() / page.res.perSecond()
		ts = append(ts, target{"signed-in home (default settings) vs chi + scs session page", "≥ 0.4×", fmt.Sprintf("%.2f×", x), x >= 0.4})
	}
	for _, l := range r.load {
		if strings.HasPrefix(l.id, "signed-") && l.skipped == "" && l.writes >= 0 {
			ts = append(ts, target{"session-store writes during the steady run: " + strings.TrimPrefix(l.name, "Launchkit: signed-in home, "), "0", fmt.Sprint(l.writes), l.writes == 0})
		}
	}
	if r.burst.n > 0 {
		ts = append(ts, target{fmt.Sprintf("peak RSS during %d concurrent sign-ins", r.burst.n), "≤ 80 MiB", mib(r.burst.peakKiB), r.burst.peakKiB <= 80*1024})
	}
	if u := r.upload; u.n > 0 {
		ts = append(ts, target{fmt.Sprintf("peak RSS during %d concurrent uploads of a %s picture", u.n, mibBytes(u.bytes)), "≤ 80 MiB", mib(u.peakKiB), u.peakKiB <= 80*1024})
		ts = append(ts, target{fmt.Sprintf("those %d uploads answered 303 / pictures stored", u.n), fmt.Sprintf("%d / %d", u.n, u.n), fmt.Sprintf("%d / %d", u.seeOther, u.stored), u.ok()})
	}
	if len(r.idle) > 0 {
		idle := r.idleMedian()
		ts = append(ts, target{"idle RSS", "≤ 20 MiB", mib(idle.rss), idle.rss <= 20*1024})
	}
	for _, s := range r.sizes {
		if s.name == webSizeName {
			ts = append(ts, target{"`bin/web`, stripped (`make build`)", "≤ 36 MiB", fmt.Sprintf("%.1f MiB", float64(s.bytes)/(1<<20)), s.bytes <= 36<<20})
		}
	}
	if len(r.ui) > 0 && r.ui[0].skipped == "" && len(r.ui[0].assets) > 0 {
		_, sent := r.ui[0].weight()
		ts = append(ts, target{"CSS + JS + fonts of the signed-in home, compressed", "≤ 60 KiB", kib(sent), sent <= weightBudget})
	}
	if len(r.startMigrated) > 0 {
		d := median(r.startMigrated)
		ts = append(ts, target{"start → first 200 on a migrated database", "≤ 50 ms", ms(d), d <= 50*time.Millisecond})
	}
	return ts
}

// targetsTable is the targets as a markdown table.
func (r *report) targetsTable() string {
	var b strings.Builder
	b.WriteString("| target | goal | this run | met |\n|---|---|--:|---|\n")
	for _, t := range r.targets() {
		met := "yes"
		if !t.met {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.what, t.goal, t.measured, met)
	}
	return b.String()
}

// markdown renders the whole report.
func (r *report) markdown(command string) string {
	var b strings.Builder
	o := r.opts
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`tools/bench`); rerun it to refresh this page. Every\n")
	b.WriteString("Launchkit number stands beside a baseline measured in the same run on the same\n")
	b.WriteString("machine: the ratios are what carry over to other machines.\n\n")
	fmt.Fprintf(&b, "- **Command:** `%s`\n", command)
	fmt.Fprintf(&b, "- **Date:** %s\n", r.when.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- **Machine:** %s\n", machine())
	fmt.Fprintf(&b, "- **Go:** %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if rev := gitRevision(); rev != "" {
		fmt.Fprintf(&b, "- **Commit:** %s\n", rev)
	}
	b.WriteString("- **Shape:** the built static binaries (`make build` flags), `ENV=production`, a\n")
	b.WriteString("  `SECRET_KEY`, Redis for jobs (TEST_REDIS_URL's server, else an in-process Redis),\n")
	b.WriteString("  SQLite unless the row says otherwise, JSON request logs at `info` to /dev/null.\n\n")

	b.WriteString("## Targets\n\n")
	b.WriteString(r.targetsTable())

	fmt.Fprintf(&b, "\n## Load over loopback\n\nClosed loop: %d connections, each sending its next request when the last answer is read; %s warm-up, then %s measured. Latencies from a log-linear histogram (±3%%). One visitor's session cookie is shared by every connection of a signed-in run. \"Store writes\" is the site's own count (`launchkit_session_store_writes_total`) over the run.\n\n",
		o.conns, o.warmup, o.duration)
	b.WriteString("| scenario | req/s | p50 | p99 | max | errors | × net/http hello | × chi + scs page | × anonymous home | p99 × anonymous p99 | peak RSS | store writes |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	hello, page, anon := r.row(rowHello), r.row(rowSessionPage), r.row(rowAnonymous)
	ratio := func(l *loadRow, base *loadRow) string {
		if base == nil || l == base {
			return "—"
		}
		return fmt.Sprintf("%.2f", l.res.perSecond()/base.res.perSecond())
	}
	for i := range r.load {
		l := &r.load[i]
		if l.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | | | | | | | |\n", l.name, l.skipped)
			continue
		}
		h := l.res.latencies
		vsAnon, p99 := "—", "—"
		if strings.HasPrefix(l.id, "signed-") || l.id == rowAPI {
			vsAnon = ratio(l, anon)
			if anon != nil {
				p99 = fmt.Sprintf("%.2f", float64(h.quantile(0.99))/float64(anon.res.latencies.quantile(0.99)))
			}
		}
		vsHello, vsPage := ratio(l, hello), ratio(l, page)
		if l.id == rowSessionPage {
			vsPage = "—"
		}
		writes := "—"
		if l.writes >= 0 {
			writes = fmt.Sprint(l.writes)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n",
			l.name, l.res.perSecond(), ms(h.quantile(0.5)), ms(h.quantile(0.99)), ms(h.max), l.res.errors,
			vsHello, vsPage, vsAnon, p99, mib(l.peakKiB), writes)
	}

	b.WriteString(r.tracingMarkdown())

	if len(r.jobs) > 0 {
		fmt.Fprintf(&b, "\n## Jobs: enqueue → done\n\n%d tasks are enqueued from 8 goroutines in the bench process; then the worker starts and is timed from its first finished task to its last (so neither its start-up nor asynq's one-second poll of an empty queue counts). Both run 10 tasks at once on the same Redis; each drains %d batches, taking turns, and the median is shown.\n\n", o.tasks, jobRounds)
		b.WriteString("| worker | enqueued, tasks/s | done, tasks/s | × bare asynq (done) |\n|---|--:|--:|--:|\n")
		base := r.jobs[0].run
		for _, j := range r.jobs {
			fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f |\n", j.name, j.run.enqueuedPerSecond(), j.run.donePerSecond(), j.run.donePerSecond()/base.donePerSecond())
		}
	}

	b.WriteString("\n## Start-up and memory\n\n")
	b.WriteString("| measurement | median | range |\n|---|--:|--:|\n")
	if len(r.startFresh) > 0 {
		fmt.Fprintf(&b, "| start → first 200 of `GET /`, fresh database (migrations applied at start) | %s | %s–%s |\n", ms(median(r.startFresh)), ms(slices.Min(r.startFresh)), ms(slices.Max(r.startFresh)))
	}
	if len(r.startMigrated) > 0 {
		fmt.Fprintf(&b, "| start → first 200 of `GET /`, migrated database | %s | %s–%s |\n", ms(median(r.startMigrated)), ms(slices.Min(r.startMigrated)), ms(slices.Max(r.startMigrated)))
	}
	if len(r.idle) > 0 {
		idle := r.idleMedian()
		rss := func(m memory) int64 { return m.rss }
		fmt.Fprintf(&b, "| idle RSS, 1 s after the first 200 | %s | %s–%s |\n", mib(idle.rss), mib(rss(slices.MinFunc(r.idle, byRSS))), mib(rss(slices.MaxFunc(r.idle, byRSS))))
		fmt.Fprintf(&b, "| … of which anonymous (heap, stacks: this process's own) | %s | |\n", mib(idle.anon))
		fmt.Fprintf(&b, "| … of which file-backed (the binary's pages: shared, reclaimable) | %s | |\n", mib(idle.file))
		if r.floor.rss > 0 {
			fmt.Fprintf(&b, "| init floor: a binary linking the same packages, initialised, running nothing | %s (anonymous %s) | |\n", mib(r.floor.rss), mib(r.floor.anon))
		}
	}
	if s := r.row(rowSignedDefault); s != nil {
		fmt.Fprintf(&b, "| peak RSS during the signed-in run (default settings) | %s | |\n", mib(s.peakKiB))
	}
	if r.burst.n > 0 {
		fmt.Fprintf(&b, "| peak RSS during %d concurrent sign-ins (%d accounts, from %d addresses) | %s | |\n", r.burst.n, r.burst.n, r.burst.n, mib(r.burst.peakKiB))
		fmt.Fprintf(&b, "| those %d sign-ins: all answered after / the slowest | %s / %s | |\n", r.burst.n, ms(r.burst.wall), ms(r.burst.slowest))
	}
	if u := r.upload; u.n > 0 {
		fmt.Fprintf(&b, "| peak RSS during %d concurrent uploads of a %s PNG to `POST /user/profile` (%d accounts, from %d addresses; local storage) | %s | |\n", u.n, mibBytes(u.bytes), u.n, u.n, mib(u.peakKiB))
		fmt.Fprintf(&b, "| … RSS just before them (the uploaders signed in on another web, each loaded the profile page here) | %s | |\n", mib(u.beforeKiB))
		fmt.Fprintf(&b, "| those %d uploads: all answered after / the slowest | %s / %s | |\n", u.n, ms(u.wall), ms(u.slowest))
		fmt.Fprintf(&b, "| those %d uploads: answered 303 / failed; pictures stored | %d / %d; %d | |\n", u.n, u.seeOther, u.failed, u.stored)
	}
	if len(r.sizes) > 0 {
		b.WriteString("\n## Binary sizes\n\nBuilt as `make build` builds (`CGO_ENABLED=0 -trimpath -ldflags=\"-s -w\"`), the `bin/` ones\n")
		b.WriteString("with `-tags nodev`, which leaves the development tools out.\n\n| binary | size |\n|---|--:|\n")
		for _, s := range r.sizes {
			fmt.Fprintf(&b, "| %s | %.1f MiB |\n", s.name, float64(s.bytes)/(1<<20))
		}
	}
	if len(r.modules) > 0 {
		b.WriteString("\n### What `bin/web` is made of\n\n")
		b.WriteString("Machine code by module, from the symbol table of the same build unstripped (`go tool nm\n")
		b.WriteString("-size`). Code is about 40 % of the file: the function tables beside it grow in step with it,\n")
		b.WriteString("while files a module embeds (asynqmon's dashboard: 6.5 MB, most of it source maps) and type\n")
		b.WriteString("data are not counted here.\n\n")
		b.WriteString(modulesTable(r.modules, 15))
	}
	if len(r.cold) > 0 {
		b.WriteString("\n## Cold first build\n\n")
		b.WriteString("The build `make run` starts with (`go build -o bin/web ./cmd/web`) on an empty build cache\n")
		b.WriteString("(`GOCACHE`), the module cache warm (dependencies downloaded, none compiled), beside the same\n")
		b.WriteString("build of a plain chi program with one route on the same chi version. Wall time depends on what\n")
		b.WriteString("else the machine runs; CPU time (user + system, of `go` and the compilers it runs) less so.\n\n")
		b.WriteString("| program | wall | CPU | × plain chi (CPU) |\n|---|--:|--:|--:|\n")
		base := r.cold[0].cpu
		for _, c := range r.cold {
			fmt.Fprintf(&b, "| %s | %.1f s | %.1f s | %.1f |\n", c.name, c.wall.Seconds(), c.cpu.Seconds(), c.cpu.Seconds()/base.Seconds())
		}
	}
	b.WriteString(r.uiMarkdown())
	if r.micro != "" {
		b.WriteString("\n## In-process cost per request\n\n")
		b.WriteString("`testing.Benchmark` through the whole handler stack with no network, against a bare\n")
		b.WriteString("`net/http` handler writing the same bytes as the home page.\n\n")
		b.WriteString(r.micro)
	}
	return b.String()
}

// machine describes the CPU and memory, from /proc where it exists.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	desc := fmt.Sprintf("%s, %d CPUs", cpu, runtime.NumCPU())
	if kib, err := procStatusFile("/proc/meminfo", "MemTotal"); err == nil {
		desc += fmt.Sprintf(", %.0f GiB RAM", float64(kib)/(1<<20))
	}
	return desc
}

// procStatusFile reads a "Name: 123 kB" line of a /proc file.
func procStatusFile(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			_, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

// gitRevision is the checked-out commit, marked when the tree has changes.
func gitRevision() string {
	out, err := exec.Command("git", "-C", moduleRoot(), "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", moduleRoot(), "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += " (with uncommitted changes)"
	}
	return rev
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func byRSS(a, b memory) int { return int(a.rss - b.rss) }

func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// mibBytes writes a size in bytes as MiB, to the tenth.
func mibBytes(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
