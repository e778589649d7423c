package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

// The load rows, by the id the report compares them with.
const (
	rowHello         = "hello"
	rowSessionPage   = "session-page"
	rowAnonymous     = "anonymous"
	rowSignedDefault = "signed-database-sqlite"
	rowSignedMemory  = "signed-memory"
	rowSignedRedis   = "signed-redis"
	rowSignedPG      = "signed-database-postgres"
	rowAPI           = "api"
)

// load runs one closed-loop load against p and records it as row id.
func (b *bench) load(ctx context.Context, id, name string, p *proc, base string, req func(int) *http.Request) error {
	spec := loadSpec{conns: b.opts.conns, warmup: b.opts.warmup, duration: b.opts.duration, request: req, status: http.StatusOK}
	before := int64(-1)
	if base != "" {
		before = storeWrites(base)
	}
	sampler := samplePeak(p)
	res := runLoad(ctx, spec)
	peak := sampler.finish()
	row := loadRow{id: id, name: name, res: res, peakKiB: peak, writes: -1}
	if before >= 0 {
		if after := storeWrites(base); after >= 0 {
			row.writes = after - before
		}
	}
	if res.requests == 0 {
		return fmt.Errorf("%s: %w (first error: %v)", name, errNoRequests, res.firstErr)
	}
	b.rep.load = append(b.rep.load, row)
	b.logf("%-52s %8.0f req/s  p50 %-8s p99 %-8s errors %d", name, res.perSecond(),
		res.latencies.quantile(0.5), res.latencies.quantile(0.99), res.errors)
	return nil
}

// get is a request factory for a plain GET of url.
func get(url string, header ...string) func(int) *http.Request {
	return func(int) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
}

// loadRuns measures the two baselines and every Launchkit row.
func (b *bench) loadRuns(ctx context.Context) error {
	if err := b.baselineRuns(ctx); err != nil {
		return err
	}

	// The default settings: the database session store on SQLite.
	s, dbURL, err := b.startPrepared(ctx)
	if err != nil {
		return err
	}
	if err := b.load(ctx, rowAnonymous, "Launchkit: anonymous home", s.proc, s.base, get(s.base+"/")); err != nil {
		return err
	}
	if err := b.signedInRun(ctx, s, rowSignedDefault, "Launchkit: signed-in home, database store on SQLite (default)"); err != nil {
		return err
	}
	key, err := apiKey(s.base)
	if err != nil {
		return err
	}
	if err := b.load(ctx, rowAPI, "Launchkit: GET /api/v1/me with a bearer key", s.proc, "", get(s.base+"/api/v1/me", "Authorization", "Bearer "+key)); err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}

	if err := b.storeRun(ctx, dbURL, "memory", rowSignedMemory, "Launchkit: signed-in home, memory store"); err != nil {
		return err
	}
	if b.realRedis {
		if err := b.storeRun(ctx, dbURL, "redis", rowSignedRedis, "Launchkit: signed-in home, redis store"); err != nil {
			return err
		}
	} else {
		b.rep.skip(rowSignedRedis, "Launchkit: signed-in home, redis store", "TEST_REDIS_URL is not set")
	}
	if base := b.getenv("TEST_DATABASE_URL"); base != "" {
		pg, drop, err := testenv.NewPostgresSchema(ctx, base)
		if err != nil {
			return err
		}
		defer func() { _ = drop() }()
		if err := b.prepareDB(ctx, pg); err != nil {
			return err
		}
		if err := b.storeRun(ctx, pg, "database", rowSignedPG, "Launchkit: signed-in home, database store on PostgreSQL"); err != nil {
			return err
		}
	} else {
		b.rep.skip(rowSignedPG, "Launchkit: signed-in home, database store on PostgreSQL", "TEST_DATABASE_URL is not set")
	}
	return nil
}

// baselineRuns measures bare net/http and the chi + scs session page.
func (b *bench) baselineRuns(ctx context.Context) error {
	for _, bl := range []struct{ id, mode, name string }{
		{rowHello, "hello", "baseline: net/http hello"},
		{rowSessionPage, "session", "baseline: chi + scs (memory store), session read + write"},
	} {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		p, err := startProc("baseline "+bl.mode, b.bin["baseline"], []string{bl.mode, "-addr", addr}, []string{"PATH=" + os.Getenv("PATH")}, b.dir)
		if err != nil {
			return err
		}
		base := "http://" + addr
		if _, err := p.waitHTTP(base+"/", 10*time.Second); err != nil {
			return err
		}
		req := get(base + "/")
		if bl.mode == "session" {
			// One visitor: the cookie of a first visit, sent by every connection.
			res, err := http.Get(base + "/")
			if err != nil {
				return err
			}
			_ = res.Body.Close()
			cookies := res.Cookies()
			if len(cookies) == 0 {
				return fmt.Errorf("the session baseline set no cookie")
			}
			req = func(int) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, base+"/", nil)
				r.AddCookie(cookies[0])
				return r
			}
		}
		if err := b.load(ctx, bl.id, bl.name, p, "", req); err != nil {
			return err
		}
		if err := p.stop(); err != nil {
			return err
		}
	}
	return nil
}

// signedInRun signs the bench account in on s and loads its home page.
func (b *bench) signedInRun(ctx context.Context, s *site, id, name string) error {
	cookie, err := signIn(s.base, benchEmail, loopback(1))
	if err != nil {
		return err
	}
	req, err := signedInHome(s.base, cookie)
	if err != nil {
		return err
	}
	return b.load(ctx, id, name, s.proc, s.base, req)
}

// storeRun starts a web process with a session store and loads its
// signed-in home.
func (b *bench) storeRun(ctx context.Context, dbURL, store, id, name string) error {
	s, err := b.startWeb(dbURL, store)
	if err != nil {
		return err
	}
	if err := b.signedInRun(ctx, s, id, name); err != nil {
		_ = s.stop()
		return err
	}
	return s.stop()
}

// jobRuns measures the queue both ways on the same Redis: a bare asynq
// server whose task writes each message with the outbox mailer, then
// Launchkit's worker doing the same through its mail:send task (.eml
// files either way), so the difference is Launchkit's jobs layer. The tasks
// are enqueued first, from eight goroutines, then the worker is started
// and timed from its first finished task to its last, so neither its
// start-up nor asynq's one-second poll of an empty queue counts.
func (b *bench) jobRuns(ctx context.Context) error {
	n := b.opts.tasks
	message := func(i int) mail.Message {
		return mail.Message{To: []string{benchEmail}, Subject: fmt.Sprintf("bench %d", i), Text: "A message of the enqueue→done bench.\n"}
	}
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return err
	}
	client := asynq.NewClientFromRedisClient(b.rdb)
	jc := jobs.NewClient(b.rdb)
	var bare, lk []jobRun
	for round := range jobRounds {
		bareDir := filepath.Join(b.dir, fmt.Sprintf("asynq-out-%d", round))
		if err := os.MkdirAll(bareDir, 0o755); err != nil {
			return err
		}
		run, err := drain(ctx, n, bareDir, ".eml", func(i int) error {
			payload, _ := json.Marshal(message(i))
			_, err := client.EnqueueContext(ctx, asynq.NewTask("bench:mail", payload))
			return err
		}, func() (*proc, error) {
			return startProc("baseline asynq", b.bin["baseline"], []string{"asynq", "-redis", b.redisURL, "-dir", bareDir}, []string{"PATH=" + os.Getenv("PATH")}, b.dir)
		})
		if err != nil {
			return err
		}
		bare = append(bare, run)

		outbox := filepath.Join(b.dir, fmt.Sprintf("worker-outbox-%d", round))
		run, err = drain(ctx, n, outbox, ".eml", func(i int) error {
			return jc.EnqueueMail(ctx, message(i))
		}, func() (*proc, error) {
			return startProc("worker", b.bin["worker"], nil, b.env("127.0.0.1:0", dbURL, "database", "MAIL_OUTBOX_DIR="+outbox, "DISABLE_SCHEDULER=true"), b.dir)
		})
		if err != nil {
			return err
		}
		lk = append(lk, run)
	}
	for _, j := range []struct {
		label string
		row   jobRow
	}{
		{"bare asynq", jobRow{name: "baseline: bare asynq, a task writing the message with the outbox mailer", run: medianRun(bare)}},
		{"Launchkit worker", jobRow{name: "Launchkit: bin/worker, mail:send to the outbox (.eml)", run: medianRun(lk)}},
	} {
		b.rep.jobs = append(b.rep.jobs, j.row)
		b.logf("%-52s %8.0f tasks/s enqueued, %8.0f tasks/s done", j.label, j.row.run.enqueuedPerSecond(), j.row.run.donePerSecond())
	}
	return nil
}

// jobRounds is how many times each worker drains a batch; the median
// round is reported, as one round is at the mercy of the machine.
const jobRounds = 3

// medianRun is the run with the median throughput.
func medianRun(runs []jobRun) jobRun {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b jobRun) int { return cmp.Compare(a.donePerSecond(), b.donePerSecond()) })
	return s[len(s)/2]
}

// jobRun is one queue measurement.
type jobRun struct {
	tasks   int
	enqueue time.Duration // enqueueing all of them
	done    time.Duration // from the first task's file to the last's
}

func (r jobRun) enqueuedPerSecond() float64 { return float64(r.tasks) / r.enqueue.Seconds() }

func (r jobRun) donePerSecond() float64 {
	return float64(r.tasks-1) / max(r.done, time.Microsecond).Seconds()
}

// drain enqueues n tasks from eight goroutines, starts the worker and
// waits until n files ending in suffix are in dir, then stops it.
func drain(ctx context.Context, n int, dir, suffix string, enqueue func(i int) error, start func() (*proc, error)) (jobRun, error) {
	run := jobRun{tasks: n}
	t0 := time.Now()
	const senders = 8
	for _, err := range parallel(senders, func(g int) error {
		for i := g; i < n; i += senders {
			if err := enqueue(i); err != nil {
				return err
			}
		}
		return nil
	}) {
		if err != nil {
			return run, fmt.Errorf("enqueue: %w", err)
		}
	}
	run.enqueue = time.Since(t0)

	p, err := start()
	if err != nil {
		return run, err
	}
	deadline := time.Now().Add(2*time.Minute + time.Duration(n)*10*time.Millisecond)
	var first time.Time
	for {
		got := countFiles(dir, suffix)
		if got > 0 && first.IsZero() {
			first = time.Now()
		}
		if got >= n {
			run.done = time.Since(first)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = p.stop()
			return run, fmt.Errorf("%s: %d of %d tasks done before giving up\n%s", p.name, got, n, p.output())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return run, p.stop()
}

func countFiles(dir, suffix string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// startRuns times start → first 200 of GET / on a fresh database
// (migrations applied at start) and on the migrated one, reads the memory
// a second after each migrated start answered, and that of the init
// floor: the same libraries initialised, nothing run.
func (b *bench) startRuns(ctx context.Context) error {
	var dbURL string
	for range b.opts.starts {
		dbURL = b.sqliteDB()
		d, _, err := b.timeStart(dbURL, false, "AUTO_MIGRATE=true")
		if err != nil {
			return err
		}
		b.rep.startFresh = append(b.rep.startFresh, d)
	}
	for range b.opts.starts {
		d, mem, err := b.timeStart(dbURL, true)
		if err != nil {
			return err
		}
		b.rep.startMigrated = append(b.rep.startMigrated, d)
		b.rep.idle = append(b.rep.idle, mem)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	floor, err := startProc("initfloor", b.bin["initfloor"], nil, []string{"PATH=" + os.Getenv("PATH")}, b.dir)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	b.rep.floor, err = floor.memory()
	_ = floor.cmd.Process.Kill()
	<-floor.done
	if err != nil {
		return err
	}
	idle := b.rep.idleMedian()
	b.logf("start → first 200: fresh %s, migrated %s; idle RSS %s (anonymous %s); init floor %s",
		median(b.rep.startFresh), median(b.rep.startMigrated), mib(idle.rss), mib(idle.anon), mib(b.rep.floor.rss))
	return nil
}

// timeStart starts web on dbURL, returns how long until GET / answered
// 200 and, when idle is set, its memory a second later.
func (b *bench) timeStart(dbURL string, idle bool, extra ...string) (time.Duration, memory, error) {
	var mem memory
	addr, err := freeAddr()
	if err != nil {
		return 0, mem, err
	}
	p, err := startProc("web", b.bin["web"], nil, b.env(addr, dbURL, "database", extra...), b.dir)
	if err != nil {
		return 0, mem, err
	}
	d, err := p.waitHTTP("http://"+addr+"/", 60*time.Second)
	if err == nil && idle {
		time.Sleep(time.Second)
		mem, err = p.memory()
	}
	if stopErr := p.stop(); err == nil {
		err = stopErr
	}
	return d, mem, err
}

// burstSize is how many sign-ins the burst sends at once: as many users
// at once, each from a loopback address of its own (so no rate limit is
// hit: one account's budget counts every attempt in flight).
const burstSize = 20

// signInBurst sends burstSize concurrent sign-ins and records the peak
// RSS they cause and how long they took.
func (b *bench) signInBurst(ctx context.Context) error {
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return err
	}
	env := b.env("127.0.0.1:0", dbURL, "database")
	for i := range burstSize {
		if err := b.manage(ctx, env, benchPassword+"\n", "user", "create", "--email", burstEmail(i), "--password-stdin"); err != nil {
			return err
		}
	}
	s, err := b.startWeb(dbURL, "database")
	if err != nil {
		return err
	}
	sampler := samplePeak(s.proc)
	took := make([]time.Duration, burstSize)
	start := time.Now()
	errs := parallel(burstSize, func(i int) error {
		t0 := time.Now()
		_, err := signIn(s.base, burstEmail(i), loopback(2+i))
		took[i] = time.Since(t0)
		return err
	})
	wall := time.Since(start)
	peak := sampler.finish()
	if err := s.stop(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("sign-in burst: %w", err)
		}
	}
	b.rep.burst = burstResult{n: burstSize, wall: wall, slowest: slices.Max(took), peakKiB: peak}
	b.logf("%d concurrent sign-ins: %s, peak RSS %s", burstSize, wall.Round(time.Millisecond), mib(peak))
	return nil
}

// webSizeName is bin/web's row of the sizes table.
const webSizeName = "`bin/web`"

// binarySizes records the size of each built binary.
func (b *bench) binarySizes() error {
	for _, name := range []string{"web", "worker", "manage"} {
		fi, err := os.Stat(b.bin[name])
		if err != nil {
			return err
		}
		b.rep.sizes = append(b.rep.sizes, sizeRow{name: "`bin/" + name + "`", bytes: fi.Size()})
	}
	return nil
}

// microRuns measures the in-process per-request costs.
func (b *bench) microRuns(ctx context.Context) error {
	b.logf("in-process per-request costs")
	table, err := microTable(ctx, b.dir)
	b.rep.micro = table
	return err
}
