package cmd_test

// Scaling out (docs/scaling-out.md): several web and worker processes on
// one PostgreSQL and one Redis act as one site, behind a balancer that
// probes /readyz; and, behind Sentinel, a failover of the Redis primary
// costs a readiness gap, not a restart.

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // fetchImage decodes the bucket's pictures
	_ "image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// deployment is the scaled-out production shape on one machine: webs and
// workers started from the built binaries with one environment, a
// balancer in front, mail written to one shared outbox directory.
type deployment struct {
	env    []string
	lb     *testenv.RoundRobin
	outbox *mailbox
}

// newDeployment migrates the database with `manage migrate up` (a
// production release step: AUTO_MIGRATE is off there) and returns the
// deployment; env comes on top of the production settings.
func newDeployment(t *testing.T, databaseURL, redisURL string, env ...string) *deployment {
	t.Helper()
	lb := testenv.NewRoundRobin(t)
	outbox := filepath.Join(t.TempDir(), "outbox")
	d := &deployment{lb: lb, outbox: newMailbox(outbox, lb.URL())}
	d.env = append([]string{
		"ENV=production", "SECRET_KEY=" + strings.Repeat("k", 40),
		"DATABASE_URL=" + databaseURL, "REDIS_URL=" + redisURL,
		"SESSION_STORE=redis", "MAIL_OUTBOX_DIR=" + outbox,
		// Each process keeps its pool open: small ones, so that several
		// processes (and other tests) fit in PostgreSQL's 100 connections.
		"DATABASE_MAX_CONNS=4",
		"BASE_URL=" + lb.URL(), "ADDR=127.0.0.1:0",
	}, env...)
	d.manage(t, "", "migrate", "up")
	return d
}

// manage runs bin/manage with stdin and fails the test unless it exits 0.
func (d *deployment) manage(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd, _ := binary(t, "manage", args, d.env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("manage %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// web starts a web process, which runs until t ends, and returns it with
// its base URL; it is not in the balancer until added.
func (d *deployment) web(t *testing.T) (*testenv.Process, string) {
	t.Helper()
	cmd, _ := binary(t, "web", nil, d.env...)
	p := testenv.Start(t, cmd)
	return p, p.WaitListening()
}

// worker starts a worker process, which runs until t ends, and waits
// until it takes tasks.
func (d *deployment) worker(t *testing.T) *testenv.Process {
	t.Helper()
	cmd, _ := binary(t, "worker", nil, d.env...)
	p := testenv.Start(t, cmd)
	p.WaitForOutput(regexp.MustCompile("worker started"), 30*time.Second)
	return p
}

// browser is one visitor of the balanced site: a cookie jar, and a
// client connecting from one loopback address, following no redirects.
type browser struct {
	site string
	c    *http.Client
}

func (d *deployment) browser(from string) *browser {
	c := d.lb.Client(from)
	c.Jar, _ = cookiejar.New(nil)
	return &browser{site: d.lb.URL(), c: c}
}

// reply is an answer through the balancer, with the backend that gave it.
type reply struct {
	status   int
	body     string
	location string
	servedBy string
}

func (b *browser) try(method, path string, form url.Values, cookies ...*http.Cookie) (reply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.site+path, body)
	if err != nil {
		return reply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{resp.StatusCode, string(text), resp.Header.Get("Location"), resp.Header.Get(testenv.ServedBy)}, nil
}

func (b *browser) get(t *testing.T, path string, cookies ...*http.Cookie) reply {
	t.Helper()
	r, err := b.try(http.MethodGet, path, nil, cookies...)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

func (b *browser) post(t *testing.T, path string, fields ...string) reply {
	t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Add(fields[i], fields[i+1])
	}
	r, err := b.try(http.MethodPost, path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

// upload posts a multipart form to path: a file of data named name in
// the field field, and the text fields.
func (b *browser) upload(t *testing.T, path, field, name string, data []byte, fields ...string) reply {
	t.Helper()
	req := testenv.MultipartPost(b.site+path, []testenv.FormFile{{Field: field, Name: name, Data: data}}, fields...)
	req.RequestURI = "" // made as a server sees it: sent as a client's
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(text), resp.Header.Get("Location"), resp.Header.Get(testenv.ServedBy)}
}

// fetchImage gets a picture from address (a presigned URL of the
// bucket) with a plain client, and decodes it.
func fetchImage(t *testing.T, address string) image.Image {
	t.Helper()
	resp, err := http.Get(address)
	if err != nil {
		t.Fatalf("GET %s: %v", address, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", address, resp.Status)
	}
	img, _, err := image.Decode(resp.Body)
	if err != nil {
		t.Fatalf("the picture at %s: %v", address, err)
	}
	return img
}

// cookie is the browser's cookie named name, or nil.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.site)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) signIn(t *testing.T, email, password string) {
	t.Helper()
	if r := b.post(t, "/user/sign-in", "email", email, "password", password); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in as %s = %d via %s, want 303:\n%.400s", email, r.status, r.servedBy, r.body)
	}
}

func want(t *testing.T, what string, r reply, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d (via %s), want %d\n%.400s", what, r.status, r.servedBy, status, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) && !strings.Contains(r.location, c) {
			t.Errorf("%s: the answer (via %s) lacks %q:\n%.400s", what, r.servedBy, c, r.body)
		}
	}
}

// mailbox reads the .eml files the workers write into the shared outbox
// directory (each appears whole: written aside, then renamed).
type mailbox struct {
	dir  string
	link *regexp.Regexp
	mu   sync.Mutex
	read map[string]mail.Message // by file name
}

func newMailbox(dir, site string) *mailbox {
	return &mailbox{dir: dir, read: map[string]mail.Message{},
		link: regexp.MustCompile(regexp.QuoteMeta(site) + `(/user/[a-z-]+/[A-Za-z0-9_-]+)`)}
}

// count is the number of mails written so far.
func (m *mailbox) count() int {
	entries, _ := os.ReadDir(m.dir)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".eml") && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// messages reads every mail written so far, oldest first.
func (m *mailbox) messages(t *testing.T) []mail.Message {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	entries, _ := os.ReadDir(m.dir) // named by the time they were written
	var out []mail.Message
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".eml") || strings.HasPrefix(name, ".") {
			continue
		}
		msg, ok := m.read[name]
		if !ok {
			msg = testenv.ReadEML(t, filepath.Join(m.dir, name))
			m.read[name] = msg
		}
		out = append(out, msg)
	}
	return out
}

// to counts the mails to each recipient.
func (m *mailbox) to(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, msg := range m.messages(t) {
		for _, to := range msg.To {
			n[to]++
		}
	}
	return n
}

// linkTo waits for a mail to address holding a link to the site and
// returns the link's path.
func (m *mailbox) linkTo(t *testing.T, address string, timeout time.Duration) string {
	t.Helper()
	var link string
	testenv.WaitUntil(t, "a mail with a link to "+address, timeout, 50*time.Millisecond, func() bool {
		msgs := m.messages(t)
		for i := len(msgs) - 1; i >= 0; i-- {
			if match := m.link.FindStringSubmatch(msgs[i].Text); match != nil && slices.Contains(msgs[i].To, address) {
				link = match[1]
				return true
			}
		}
		return false
	})
	return link
}

// bulkAddress is the address of the i-th account the mail test mails.
func bulkAddress(i int) string { return fmt.Sprintf("bulk-%03d@example.com", i) }

// TestTwoWebsAndTwoWorkersActAsOneSystem runs two webs and two workers of
// the production shape (ENV=production, REDIS_URL set: sessions, limits
// and jobs on Redis, no worker inside the webs) on one PostgreSQL schema
// and one Redis, behind a balancer that sends each request to the next
// web and probes /readyz, and shows through it that they act as one site:
// a session made on one web is good on the other and ends on both,
// guessing budgets are counted once, no mail is lost when a worker is
// killed with tasks in flight, and a rolling restart of the webs fails no
// request.
//
// The SIGKILL step comes first because its recovery is the slow part:
// asynq takes back a dead worker's tasks only once their lease (30 s,
// extended every 5 s while the worker lives) has been expired for 30 s,
// in a recoverer that runs when a worker starts and every minute after;
// the task then runs again after a second (jobs' retry delay for a task
// whose worker died). The other steps run meanwhile; the last one waits
// for every mail.
func TestTwoWebsAndTwoWorkersActAsOneSystem(t *testing.T) {
	needBinaries(t)
	needLoopbackAddresses(t)
	start := time.Now()
	step := func(format string, args ...any) {
		t.Helper()
		t.Logf("%5.1fs  %s", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	databaseURL, redisURL := testenv.PostgresURL(t), testenv.RedisURL(t)
	// Uploaded files go to one S3 bucket (on loopback) that every web and
	// worker uses.
	s3 := testenv.StartS3(t)
	d := newDeployment(t, databaseURL, redisURL, append(s3.Env(),
		// The balancer's address is the only proxy the webs believe: the
		// client address they limit by is the one it saw.
		"TRUSTED_PROXIES=127.0.0.1", "TRUSTED_PROXY_HEADER=X-Forwarded-For",
		"SHUTDOWN_DRAIN_DELAY=2s", "USER_REQUIRE_CONFIRMED_EMAIL=true")...)

	web1, base1 := d.web(t)
	web2, base2 := d.web(t)
	webs := map[string]*testenv.Process{base1: web1, base2: web2}
	d.lb.Add(base1)
	d.lb.Add(base2)
	d.lb.WaitRotation(t, base1, true, 30*time.Second)
	d.lb.WaitRotation(t, base2, true, 30*time.Second)
	workerA, workerB := d.worker(t), d.worker(t)

	rdb := testenv.RedisClient(t, redisURL)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	// The task servers in Redis are the two workers' (each registers at
	// its first heartbeat), none a web's.
	var servers []*asynq.ServerInfo
	testenv.WaitUntil(t, "both workers registered in Redis", 10*time.Second, 20*time.Millisecond, func() bool {
		servers, _ = inspector.Servers()
		pids := map[int]bool{}
		for _, s := range servers {
			pids[s.PID] = true
		}
		return pids[workerA.PID()] && pids[workerB.PID()]
	})
	if len(servers) != 2 {
		t.Fatalf("%d task servers in Redis, want only the two workers': the webs must not run one with REDIS_URL set", len(servers))
	}
	step("2 webs, 2 workers and the balancer are up")

	// The accounts the mail step mails, and one for the guessing test,
	// made directly in the database (cheap hashes: speed, not realism).
	conn, err := db.Open(t.Context(), databaseURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	accounts := users.NewService(conn)
	accounts.Params = testenv.CheapHashing
	const bulk = 500
	var made sync.WaitGroup
	var createErr atomic.Value
	for w := range 8 {
		made.Go(func() {
			for i := w; i < bulk+1; i += 8 {
				email := "grace@example.com"
				if i < bulk {
					email = bulkAddress(i)
				}
				if _, err := accounts.CreateConfirmed(context.Background(), email, "grace's password 42"); err != nil {
					createErr.Store(err)
				}
			}
		})
	}
	made.Wait()
	_ = conn.Close()
	if err, _ := createErr.Load().(error); err != nil {
		t.Fatal(err)
	}

	var killedAt time.Time
	var atKill int
	inFlight := map[string]bool{} // the tasks active when worker A died
	if !t.Run("500 mails asked for across both webs, a worker killed midway", func(t *testing.T) {
		// Both workers are frozen while the 500 requests go in, so that
		// a backlog waits in Redis; worker A then works it alone until
		// it is killed, so it certainly has tasks in flight (with both
		// thawed, B could send half the mails while A still slept in
		// its poll of the queue that was empty when it froze).
		workerA.Signal(t, syscall.SIGSTOP)
		workerB.Signal(t, syscall.SIGSTOP)
		before := d.lb.Served()
		// Forgot-password: the web writes the request to the outbox
		// table and relays it to the queue. A client address may post 10
		// such forms a minute (internal/web/limits.go): 100 clients, 5
		// each.
		var wg sync.WaitGroup
		failures := make(chan string, bulk)
		for c := range 100 {
			wg.Go(func() {
				b := d.browser(fmt.Sprintf("127.0.1.%d", c+1))
				for i := c; i < bulk; i += 100 {
					r, err := b.try(http.MethodPost, "/user/forgot-password", url.Values{"email": {bulkAddress(i)}})
					if err != nil || r.status != http.StatusSeeOther {
						failures <- fmt.Sprintf("%s: %d %v %.200s", bulkAddress(i), r.status, err, r.body)
					}
				}
			})
		}
		wg.Wait()
		close(failures)
		for f := range failures {
			t.Errorf("forgot-password for %s", f)
		}
		after := d.lb.Served()
		if after[base1]-before[base1] < bulk/4 || after[base2]-before[base2] < bulk/4 {
			t.Errorf("the balancer did not spread the posts: %v then %v", before, after)
		}
		testenv.WaitUntil(t, "all 500 tasks queued in Redis", 20*time.Second, 50*time.Millisecond, func() bool {
			info, err := inspector.GetQueueInfo(jobs.QueueCritical)
			return err == nil && info.Pending == bulk
		})
		step("500 forgot-password posts answered, 500 tasks queued (workers frozen)")

		baseline := d.outbox.count()
		workerA.Signal(t, syscall.SIGCONT)
		testenv.WaitUntil(t, "worker A sending half the mails", 30*time.Second, 2*time.Millisecond, func() bool {
			return d.outbox.count()-baseline >= bulk/2
		})
		workerA.Signal(t, syscall.SIGKILL)
		killedAt = time.Now()
		workerA.Wait(10 * time.Second)
		atKill = d.outbox.count() - baseline
		active, err := inspector.ListActiveTasks(jobs.QueueCritical, asynq.PageSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range active {
			inFlight[task.ID] = true
		}
		workerB.Signal(t, syscall.SIGCONT)
		step("worker A SIGKILLed with %d of 500 mails sent and %d tasks in flight, now orphaned; worker B thawed", atKill, len(active))
	}) {
		t.FailNow()
	}
	// A supervisor restarts it (systemd, Kubernetes): two workers again.
	// The new one's recoverer runs at its start and a minute later, by
	// when the killed worker's leases have been expired for 30 s.
	workerA = d.worker(t)
	step("worker A restarted")

	ada := d.browser("127.0.0.2")
	const adaEmail, adaPassword = "ada@example.com", "correct horse battery staple 9"
	if !t.Run("signed in on one web, signed in on both", func(t *testing.T) {
		want(t, "register", ada.post(t, "/user/register", "email", adaEmail, "password", adaPassword, "retype_password", adaPassword),
			http.StatusSeeOther, "/user/sign-in")
		want(t, "sign-in before confirming", ada.post(t, "/user/sign-in", "email", adaEmail, "password", adaPassword),
			http.StatusUnprocessableEntity, "Confirm your email address first")

		link := d.outbox.linkTo(t, adaEmail, 60*time.Second)
		if !strings.HasPrefix(link, "/user/confirm-email/") {
			t.Fatalf("the confirmation mail links to %s", link)
		}
		confirmed := ada.get(t, link)
		want(t, "the confirmation link", confirmed, http.StatusSeeOther, "/user/sign-in")
		page := ada.get(t, "/user/sign-in") // its flash rides on the session, made on the other web
		want(t, "the page after confirming", page, http.StatusOK, "Your email address is confirmed.")
		if page.servedBy == confirmed.servedBy {
			t.Errorf("confirmation and the next page were both served by %s: the balancer did not alternate", page.servedBy)
		}
		ada.signIn(t, adaEmail, adaPassword)

		servedBy := map[string]int{}
		for range 10 {
			r := ada.get(t, "/user/profile")
			want(t, "a signed-in page", r, http.StatusOK, adaEmail)
			servedBy[r.servedBy]++
		}
		if servedBy[base1] == 0 || servedBy[base2] == 0 {
			t.Errorf("10 signed-in pages were served by %v, want both webs", servedBy)
		}
		step("registered, confirmed by mail and signed in; 10 signed-in pages: %v", servedBy)
	}) {
		t.FailNow()
	}

	t.Run("a picture uploaded through one web is served by the other, from S3", func(t *testing.T) {
		pic := testenv.PNG(320, 200)
		up := ada.upload(t, "/user/profile", "avatar", "me.png", pic, "name", "Ada")
		want(t, "the upload", up, http.StatusSeeOther, "/user/profile")
		var src string
		var page reply
		for range 4 {
			page = ada.get(t, "/user/profile")
			if page.servedBy != up.servedBy {
				break
			}
		}
		want(t, "the profile page, on the other web", page, http.StatusOK)
		if page.servedBy == up.servedBy {
			t.Fatalf("the upload and the page were both served by %s", up.servedBy)
		}
		m := regexp.MustCompile(`/users/\d+/avatar/256[^"]*`).FindString(page.body)
		if m == "" {
			t.Fatalf("the profile page shows no picture:\n%.600s", page.body)
		}
		src = strings.ReplaceAll(m, "&amp;", "&")
		// The other web answers with a presigned URL of the bucket, which
		// gives the picture: re-encoded (a JPEG, as it is opaque), whole.
		seen := map[string]bool{}
		for range 2 {
			r := ada.get(t, src)
			want(t, "the picture's address", r, http.StatusSeeOther, s3.Endpoint)
			seen[r.servedBy] = true
			img := fetchImage(t, r.location)
			if b := img.Bounds(); b.Dx() != 256 && b.Dx() != 320 {
				t.Errorf("the picture via %s is %v", r.servedBy, b)
			}
		}
		if len(seen) != 2 {
			t.Errorf("the picture was served by %v, want both webs", seen)
		}
		// A worker makes the 64 px copy; then the small address gives it.
		small := strings.Replace(src, "/avatar/256", "/avatar/64", 1)
		testenv.WaitUntil(t, "the 64 px copy", 30*time.Second, 100*time.Millisecond, func() bool {
			r, err := ada.try(http.MethodGet, small, nil)
			if err != nil || r.status != http.StatusSeeOther {
				return false
			}
			return fetchImage(t, r.location).Bounds().Dx() == 64
		})
		// Another visitor gets no picture of Ada's.
		stranger := d.browser("127.0.0.3")
		want(t, "the picture, to a stranger", stranger.get(t, src), http.StatusNotFound)
		step("a picture uploaded via %s was served from S3 by both webs; a worker made its copies", up.servedBy)
	})

	if !t.Run("sign-out on one web ends the session on the other", func(t *testing.T) {
		old := ada.cookie("session")
		if old == nil {
			t.Fatal("no session cookie after sign-in")
		}
		out := ada.post(t, "/user/sign-out")
		want(t, "sign-out", out, http.StatusSeeOther)
		next := ada.get(t, "/user/profile")
		want(t, "the next request, on the other web", next, http.StatusSeeOther, "/user/sign-in")
		if next.servedBy == out.servedBy {
			t.Errorf("sign-out and the next request were both served by %s", out.servedBy)
		}
		// The old cookie, replayed (a copy a thief kept), is signed out
		// on both webs: the session is gone from the shared store.
		replay := d.browser("127.0.0.2")
		servedBy := map[string]bool{}
		for range 2 {
			r := replay.get(t, "/user/profile", &http.Cookie{Name: old.Name, Value: old.Value})
			want(t, "the old session cookie", r, http.StatusSeeOther, "/user/sign-in")
			servedBy[r.servedBy] = true
		}
		if len(servedBy) != 2 {
			t.Errorf("the replayed cookie reached only %v", servedBy)
		}
		ada.signIn(t, adaEmail, adaPassword) // for the rolling restart
		step("signed out via %s; refused via %s and, replayed, on both", out.servedBy, next.servedBy)
	}) {
		t.FailNow()
	}

	t.Run("guessing budgets are counted once across the webs", func(t *testing.T) {
		// internal/web/limits.go: 10 password checks a minute per client
		// address, and 10 per account in 15 minutes. Were the budgets
		// kept per process, the 11th guess, alternating between two
		// webs, would be each web's 6th, and let through.
		const limit = 10
		guesser := d.browser("127.0.0.3")
		servedBy := map[string]bool{}
		for i := 1; i <= limit+1; i++ {
			r := guesser.post(t, "/user/sign-in", "email", fmt.Sprintf("nobody-%d@example.com", i), "password", "a wrong guess")
			servedBy[r.servedBy] = true
			switch {
			case i <= limit && r.status != http.StatusUnprocessableEntity:
				t.Errorf("guess %d from one address = %d via %s, want 422 (a wrong password)", i, r.status, r.servedBy)
			case i > limit && (r.status != http.StatusTooManyRequests || strings.Contains(r.body, "for this account")):
				t.Errorf("guess %d from one address = %d via %s, want 429 for the address's budget:\n%.400s", i, r.status, r.servedBy, r.body)
			}
		}
		if len(servedBy) != 2 {
			t.Errorf("the guesses from one address reached only %v", servedBy)
		}

		servedBy = map[string]bool{}
		for i := 1; i <= limit+1; i++ {
			r := d.browser(fmt.Sprintf("127.0.2.%d", i)).post(t, "/user/sign-in", "email", "grace@example.com", "password", fmt.Sprintf("wrong guess %d", i))
			servedBy[r.servedBy] = true
			switch {
			case i <= limit && r.status != http.StatusUnprocessableEntity:
				t.Errorf("guess %d at one account = %d via %s, want 422 (a wrong password)", i, r.status, r.servedBy)
			case i > limit && (r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many wrong passwords for this account")):
				t.Errorf("guess %d at one account = %d via %s, want 429 naming the account's budget:\n%.400s", i, r.status, r.servedBy, r.body)
			}
		}
		if len(servedBy) != 2 {
			t.Errorf("the guesses at one account reached only %v", servedBy)
		}
		step("the 11th guess, from one address or at one account, refused with both webs taking turns")
	})

	if !t.Run("rolling restart of the webs fails no request", func(t *testing.T) {
		var total, failed atomic.Int64
		var mu sync.Mutex
		var failures []string
		stop := make(chan struct{})
		var traffic sync.WaitGroup
		// Four clients sharing ada's cookie jar and kept-alive
		// connections, each sending a request every 5 ms at most.
		for range 4 {
			traffic.Go(func() {
				pace := time.NewTicker(5 * time.Millisecond)
				defer pace.Stop()
				for {
					select {
					case <-stop:
						return
					case <-pace.C:
					}
					r, err := ada.try(http.MethodGet, "/user/profile", nil)
					total.Add(1)
					if err != nil || r.status != http.StatusOK || !strings.Contains(r.body, adaEmail) {
						if failed.Add(1) <= 10 {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("%d via %s: %v %.120s", r.status, r.servedBy, err, r.body))
							mu.Unlock()
						}
					}
				}
			})
		}
		var stopOnce sync.Once
		stopTraffic := func() {
			stopOnce.Do(func() {
				close(stop)
				traffic.Wait()
			})
		}
		defer stopTraffic()
		testenv.WaitUntil(t, "traffic flowing", 10*time.Second, 10*time.Millisecond, func() bool { return total.Load() >= 50 })

		for _, old := range []string{base1, base2} {
			p := webs[old]
			p.Terminate()
			// The balancer sees /readyz turn 503 and stops sending to it
			// while it still serves (SHUTDOWN_DRAIN_DELAY=2s).
			d.lb.WaitRotation(t, old, false, 1500*time.Millisecond)
			if !p.Running() {
				t.Errorf("%s exited before the balancer took it out of rotation", old)
			}
			if code := p.Wait(30 * time.Second); code != 0 {
				t.Errorf("web %s exited %d after SIGTERM", old, code)
			}
			d.lb.Remove(old)
			fresh, base := d.web(t)
			webs[base] = fresh
			d.lb.Add(base)
			d.lb.WaitRotation(t, base, true, 30*time.Second)
			testenv.WaitUntil(t, "the new web serving", 10*time.Second, 10*time.Millisecond, func() bool { return d.lb.Served()[base] >= 20 })
			step("web %s replaced by %s (%d requests so far, %d failed)", old, base, total.Load(), failed.Load())
		}
		n := total.Load()
		testenv.WaitUntil(t, "traffic after the restart", 10*time.Second, 10*time.Millisecond, func() bool { return total.Load() >= n+50 })
		stopTraffic()
		mu.Lock()
		defer mu.Unlock()
		step("rolling restart: %d requests, %d failed", total.Load(), failed.Load())
		if failed.Load() != 0 {
			t.Errorf("%d of %d requests failed during the rolling restart; first ones:\n%s\nbalancer: %v",
				failed.Load(), total.Load(), strings.Join(failures, "\n"), d.lb.Errors())
		}
	}) {
		t.FailNow()
	}

	t.Run("every mail arrives, the killed worker's too", func(t *testing.T) {
		// asynq delivers at least once: a task the killed worker had done
		// but not yet acknowledged runs again, and its mail goes out
		// twice. Duplicates are counted, not failed; a missing mail fails.
		//
		// The killed worker's tasks show as orphaned (active, lease run
		// out) from about 30 s after the kill; each must end completed
		// (the outbox's tasks are kept a day once done). So must every
		// task active at the kill: one of worker A's may have sent its
		// mail and died before saying so, and is found only once its
		// lease has run out, after every mail is in. The deadline:
		// recovered about 60 s after the kill, run again a second later
		// (the scheduled set is polled every 5 s), with room to spare on
		// a loaded machine.
		orphaned := map[string]bool{}
		var got map[string]int
		deadline := killedAt.Add(150 * time.Second)
		for {
			if active, err := inspector.ListActiveTasks(jobs.QueueCritical, asynq.PageSize(1000)); err == nil {
				for _, task := range active {
					if task.IsOrphaned {
						orphaned[task.ID] = true
					}
				}
			}
			got = d.outbox.to(t)
			missing := 0
			for i := range bulk {
				if got[bulkAddress(i)] == 0 {
					missing++
				}
			}
			unfinished := 0
			for _, ids := range []map[string]bool{orphaned, inFlight} {
				for id := range ids {
					if info, err := inspector.GetTaskInfo(jobs.QueueCritical, id); err != nil || info.State != asynq.TaskStateCompleted {
						unfinished++
					}
				}
			}
			if missing == 0 && unfinished == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s after the kill: %d of %d mails missing; of the %d tasks in flight at the kill and the %d orphaned by it, %d not completed",
					time.Since(killedAt).Round(time.Second), missing, bulk, len(inFlight), len(orphaned), unfinished)
			}
			time.Sleep(250 * time.Millisecond)
		}
		duplicates := 0
		for i := range bulk {
			duplicates += got[bulkAddress(i)] - 1
		}
		step("all 500 mails arrived %s after the kill; %d tasks were orphaned by it and completed on a second run; %d duplicate mails (at-least-once)",
			time.Since(killedAt).Round(time.Second), len(orphaned), duplicates)
		if len(orphaned) == 0 {
			t.Errorf("no task was left orphaned by the SIGKILL (%d mails sent before it): the kill did not catch tasks in flight", atKill)
		}
	})
}

// readiness is one answer of /readyz.
type readiness struct {
	Status string `json:"status"`
	Checks map[string]struct {
		Status string `json:"status"`
	} `json:"checks"`
}

// TestSentinelFailoverWithWebAndWorker runs a web and a worker on a Redis
// primary watched by Sentinels (REDIS_URL=redis+sentinel://…, sessions on
// Redis), kills the primary, and shows that /readyz reports the gap and
// recovers, that tasks queued before the kill and new ones run, and that
// a session from before the kill still holds, with neither process
// restarted.
//
// Redis replicates asynchronously: a write the primary acknowledged may
// not have reached the replica when it dies, and is then lost in the
// failover. Only WAIT makes it safe: "WAIT 1 1000" returns once one
// replica has acknowledged everything the primary had replicated up to
// this client's last write. The test writes a marker and WAITs for it
// after the session and the tasks were written, so "nothing written
// before the kill is lost" is a fair claim here; without it, it is not.
func TestSentinelFailoverWithWebAndWorker(t *testing.T) {
	needLoopbackAddresses(t)
	needBinaries(t)
	databaseURL := testenv.PostgresURL(t)
	redisURL, killPrimary := testenv.Sentinels(t) // a primary counted down after 1 s
	d := newDeployment(t, databaseURL, redisURL)
	const email, password = "ada@example.com", "correct horse battery staple 9"
	d.manage(t, password+"\n", "user", "ensure", "--email", email, "--password-stdin")

	web, base := d.web(t)
	worker := d.worker(t)
	d.lb.Add(base)
	d.lb.WaitRotation(t, base, true, 30*time.Second)
	ada := d.browser("127.0.0.2")
	ada.signIn(t, email, password)
	want(t, "a signed-in page", ada.get(t, "/user/profile"), http.StatusOK, email)

	rdb, err := redisconn.Open(t.Context(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	// Queued before the kill, with the worker frozen so that none runs
	// before it: 10 mails from here, and a reset link asked for on the
	// web (written to the outbox, relayed by the web).
	worker.Signal(t, syscall.SIGSTOP)
	const n = 10
	queue := jobs.NewClient(rdb)
	for i := range n {
		msg := mail.Message{To: []string{fmt.Sprintf("before-%d@example.com", i)}, Subject: "Queued before the failover", Text: "hello"}
		if err := queue.EnqueueMail(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	want(t, "forgot-password before the kill", ada.post(t, "/user/forgot-password", "email", email), http.StatusSeeOther)
	testenv.WaitUntil(t, "11 tasks queued", 10*time.Second, 20*time.Millisecond, func() bool {
		info, err := inspector.GetQueueInfo(jobs.QueueCritical)
		return err == nil && info.Pending == n+1
	})
	// WAIT counts from its own connection's last write, which follows
	// every write above in the replication stream: one connection for
	// both.
	c := rdb.Conn()
	if err := c.Set(t.Context(), "launchkit:test:replicated", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if acked, err := c.Do(t.Context(), "WAIT", 1, 1000).Int(); err != nil || acked != 1 {
		t.Fatalf("WAIT 1 1000 = %d, %v: the replica did not acknowledge the writes", acked, err)
	}
	_ = c.Close()

	killPrimary()
	killedAt := time.Now()
	worker.Signal(t, syscall.SIGCONT)

	// /readyz reports Redis down while the Sentinels fail over, then
	// ready again. A probe starts every 100 ms, whether or not the last
	// one has answered (a probe may wait up to readyz's 2 s on Redis), as
	// a balancer's several nodes would probe.
	type probeAnswer struct {
		sent, got time.Time
		status    int
		redisDown bool
	}
	answers := make(chan probeAnswer, 400)
	var probes sync.WaitGroup
	probe := &http.Client{Timeout: 5 * time.Second}
	var seen []probeAnswer
	var firstDown, readyAgain *probeAnswer
	for tick := time.NewTicker(100 * time.Millisecond); readyAgain == nil; <-tick.C {
		if time.Since(killedAt) > 30*time.Second {
			t.Fatalf("/readyz within 30 s of the kill: first answer naming redis down %v; answers: %v", firstDown, seen)
		}
		probes.Go(func() {
			a := probeAnswer{sent: time.Now()}
			if resp, err := probe.Get(base + "/readyz"); err == nil {
				var r readiness
				_ = json.NewDecoder(resp.Body).Decode(&r)
				_ = resp.Body.Close()
				a.status, a.redisDown = resp.StatusCode, r.Checks["redis"].Status == "down"
			}
			a.got = time.Now()
			answers <- a
		})
		for more := true; more; {
			select {
			case a := <-answers:
				seen = append(seen, a)
				switch {
				case a.status == http.StatusServiceUnavailable && a.redisDown && firstDown == nil:
					firstDown = &a
				case a.status == http.StatusOK && firstDown != nil && a.sent.After(firstDown.got):
					readyAgain = &a
				}
			default:
				more = false
			}
		}
	}
	probes.Wait()
	var downs, failed int
	for _, a := range seen {
		if a.redisDown {
			downs++
		} else if a.status != http.StatusOK {
			failed++
		}
	}
	t.Logf("/readyz after the kill: %d answers, %d of them 503 naming redis down (the first %s after the kill), %d other failures; ready again %s after it",
		len(seen), downs, firstDown.got.Sub(killedAt).Round(time.Millisecond), failed, readyAgain.got.Sub(killedAt).Round(time.Millisecond))

	// The session made before the kill is still good.
	d.lb.WaitRotation(t, base, true, 10*time.Second)
	want(t, "the session from before the failover", ada.get(t, "/user/profile"), http.StatusOK, email)

	// New work, from here and from the web, runs.
	for i := range n {
		msg := mail.Message{To: []string{fmt.Sprintf("after-%d@example.com", i)}, Subject: "Queued after the failover", Text: "hello"}
		if err := queue.EnqueueMail(t.Context(), msg); err != nil {
			t.Fatalf("enqueue after the failover: %v", err)
		}
	}
	want(t, "forgot-password after the failover", ada.post(t, "/user/forgot-password", "email", email), http.StatusSeeOther)

	var got map[string]int
	testenv.WaitUntil(t, "every mail, queued before the kill and after", 60*time.Second, 100*time.Millisecond, func() bool {
		got = d.outbox.to(t)
		for i := range n {
			if got[fmt.Sprintf("before-%d@example.com", i)] == 0 || got[fmt.Sprintf("after-%d@example.com", i)] == 0 {
				return false
			}
		}
		return got[email] >= 2
	})
	t.Logf("every mail delivered %s after the kill: %d mails to %d addresses", time.Since(killedAt).Round(time.Millisecond), d.outbox.count(), len(got))

	if !web.Running() || !worker.Running() {
		t.Errorf("a process exited during the failover (web running %v, worker running %v)", web.Running(), worker.Running())
	}
}

// needLoopbackAddresses skips t where clients cannot connect from
// 127.0.0.2 and the like (Linux has all of 127.0.0.0/8; macOS only
// 127.0.0.1 unless aliases are added).
func needLoopbackAddresses(t *testing.T) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("needs loopback addresses besides 127.0.0.1 to act as several clients: %v", err)
	}
	c.Close()
}
