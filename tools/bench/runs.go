package main

import (
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
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return err
	}
	s, err := b.startWeb(dbURL, "database")
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
	cookie, err := signIn(s.base, loopback(1))
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

// jobRuns measures enqueue→done: bare asynq, then Launchkit's worker
// sending mail to its outbox, on the same Redis.
func (b *bench) jobRuns(ctx context.Context) error {
	n := b.opts.tasks
	message := func(i int) mail.Message {
		return mail.Message{To: []string{benchEmail}, Subject: fmt.Sprintf("bench %d", i), Text: "A message of the enqueue→done bench.\n"}
	}

	bareDir := filepath.Join(b.dir, "asynq-out")
	if err := os.MkdirAll(bareDir, 0o755); err != nil {
		return err
	}
	bare, err := startProc("baseline asynq", b.bin["baseline"], []string{"asynq", "-redis", b.redisURL, "-dir", bareDir}, []string{"PATH=" + os.Getenv("PATH")}, b.dir)
	if err != nil {
		return err
	}
	client := asynq.NewClientFromRedisClient(b.rdb)
	bareRun, err := enqueueAndWait(ctx, bare, n, bareDir, ".json", func(i int) error {
		payload, _ := json.Marshal(message(i))
		_, err := client.EnqueueContext(ctx, asynq.NewTask("bench:file", payload))
		return err
	})
	if stopErr := bare.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	b.rep.jobs = append(b.rep.jobs, jobRow{name: "baseline: bare asynq, a task writing its payload to a file", run: bareRun})
	b.logf("%-52s %8.0f tasks/s", "bare asynq", bareRun.perSecond())

	outbox := filepath.Join(b.dir, "worker-outbox")
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return err
	}
	worker, err := startProc("worker", b.bin["worker"], nil, b.env("127.0.0.1:0", dbURL, "database", "MAIL_OUTBOX_DIR="+outbox, "DISABLE_SCHEDULER=true"), b.dir)
	if err != nil {
		return err
	}
	jc := jobs.NewClient(b.rdb)
	lkRun, err := enqueueAndWait(ctx, worker, n, outbox, ".eml", func(i int) error {
		return jc.EnqueueMail(ctx, message(i))
	})
	if stopErr := worker.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	b.rep.jobs = append(b.rep.jobs, jobRow{name: "Launchkit: worker, mail:send to the outbox (.eml)", run: lkRun})
	b.logf("%-52s %8.0f tasks/s", "Launchkit worker", lkRun.perSecond())
	return nil
}

// jobRun is one enqueue→done measurement.
type jobRun struct {
	tasks   int
	enqueue time.Duration // until the last enqueue returned
	done    time.Duration // until the last task's file existed
}

func (r jobRun) perSecond() float64 { return float64(r.tasks) / r.done.Seconds() }

// enqueueAndWait waits for p to start its worker, enqueues n tasks from
// eight goroutines, and waits until n files ending in suffix are in dir.
func enqueueAndWait(ctx context.Context, p *proc, n int, dir, suffix string, enqueue func(i int) error) (jobRun, error) {
	if err := waitOutput(p, "worker started", 30*time.Second); err != nil {
		return jobRun{}, err
	}
	start := time.Now()
	const senders = 8
	errs := parallel(senders, func(g int) error {
		for i := g; i < n; i += senders {
			if err := enqueue(i); err != nil {
				return err
			}
		}
		return nil
	})
	run := jobRun{tasks: n, enqueue: time.Since(start)}
	for _, err := range errs {
		if err != nil {
			return run, fmt.Errorf("%s: enqueue: %w", p.name, err)
		}
	}
	deadline := start.Add(2*time.Minute + time.Duration(n)*10*time.Millisecond)
	for {
		got := countFiles(dir, suffix)
		if got >= n {
			run.done = time.Since(start)
			return run, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return run, fmt.Errorf("%s: %d of %d tasks done before giving up\n%s", p.name, got, n, p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// waitOutput waits until p has printed want.
func waitOutput(p *proc, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.output(), want) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not print %q within %s\n%s", p.name, want, timeout, p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// startRuns times start → first 200 of GET / on a fresh database
// (migrations applied at start) and on the migrated one, and reads the
// idle RSS a second after each migrated start answered.
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
		d, rss, err := b.timeStart(dbURL, true)
		if err != nil {
			return err
		}
		b.rep.startMigrated = append(b.rep.startMigrated, d)
		b.rep.idleKiB = append(b.rep.idleKiB, rss)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.logf("start → first 200: fresh %s, migrated %s; idle RSS %s", median(b.rep.startFresh), median(b.rep.startMigrated), mib(medianInt(b.rep.idleKiB)))
	return nil
}

// timeStart starts web on dbURL, returns how long until GET / answered
// 200 and, when idle is set, the RSS a second later.
func (b *bench) timeStart(dbURL string, idle bool, extra ...string) (time.Duration, int64, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	p, err := startProc("web", b.bin["web"], nil, b.env(addr, dbURL, "database", extra...), b.dir)
	if err != nil {
		return 0, 0, err
	}
	d, err := p.waitHTTP("http://"+addr+"/", 60*time.Second)
	var rss int64
	if err == nil && idle {
		time.Sleep(time.Second)
		rss, err = p.rssKiB()
	}
	if stopErr := p.stop(); err == nil {
		err = stopErr
	}
	return d, rss, err
}

// burstSize is how many sign-ins the burst sends at once, each from a
// loopback address of its own (so no rate limit is hit).
const burstSize = 20

// signInBurst sends burstSize concurrent sign-ins and records the peak
// RSS they cause and how long they took.
func (b *bench) signInBurst(ctx context.Context) error {
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return err
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
		_, err := signIn(s.base, loopback(2+i))
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

// binarySizes records the size of each built binary.
func (b *bench) binarySizes() error {
	for _, name := range []string{"web", "worker", "manage"} {
		fi, err := os.Stat(b.bin[name])
		if err != nil {
			return err
		}
		b.rep.sizes = append(b.rep.sizes, sizeRow{name: name, bytes: fi.Size()})
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
