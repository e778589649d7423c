package cmd_test

// Tracing across processes (internal/telemetry): the built web and worker
// export spans over OTLP/HTTP to a real receiver, and one registration
// is one trace, from the request through its SQL and the task it queued
// to the worker's mail.

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// traceWait bounds the wait for a trace's spans: the exporters send every
// 100 ms (OTEL_BSP_SCHEDULE_DELAY) and the worker polls Redis each second.
const traceWait = 20 * time.Second

// TestOneRegistrationIsOneTraceAcrossWebAndWorker runs a web and a worker
// of the production shape (PostgreSQL, Redis, separate processes) with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a real OTLP receiver, registers
// one account, and finds one trace holding the request's server span in
// the web, its SQL statements, the enqueue of the confirmation mail with
// its Redis commands, the worker's task span (the enqueue's child, in the other process) and the
// mail's sending, with both processes' log lines for that work carrying
// its trace_id. Then the same binaries without the variable export
// nothing, not even to the exporter's default address.
func TestOneRegistrationIsOneTraceAcrossWebAndWorker(t *testing.T) {
	needBinaries(t)
	// No balancer watches the webs: they stop at once on SIGTERM.
	d := newDeployment(t, testenv.PostgresURL(t), testenv.RedisURL(t), "SHUTDOWN_DRAIN_DELAY=0s")
	receiver := testenv.StartOTLP(t)
	traced := d.with("OTEL_EXPORTER_OTLP_ENDPOINT="+receiver.Endpoint(), "OTEL_BSP_SCHEDULE_DELAY=100")
	web, base := traced.web(t)
	worker := traced.worker(t)
	webService, workerService := app.ServiceName("Launchkit", "web"), app.ServiceName("Launchkit", "worker")

	const email, password = "ada@example.com", "correct horse battery staple 9"
	register(t, base, email, password)

	// The server span ends after everything the request did in the web,
	// the task span after everything the worker did for it: once both
	// are in, the trace is whole (each process exports spans as they end).
	var trace []testenv.Span
	receiver.WaitFor(t, traceWait, func(spans []testenv.Span) bool {
		server, ok := findSpan(spans, func(s testenv.Span) bool { return s.Name == "POST /user/register" })
		if !ok {
			return false
		}
		trace = inTrace(spans, server.TraceID)
		_, done := findSpan(trace, func(s testenv.Span) bool { return s.Name == "task "+users.TaskAccountMail })
		return done
	})
	spans := receiver.Spans()
	byID := map[string]testenv.Span{}
	for _, s := range trace {
		byID[s.SpanID] = s
	}
	t.Logf("the registration's trace, %d spans:\n%s", len(trace), testenv.FormatSpans(trace))

	var requests []testenv.Span
	for _, s := range spans {
		if s.Name == "POST /user/register" {
			requests = append(requests, s)
		}
	}
	if len(requests) != 1 {
		t.Fatalf("%d server spans named POST /user/register for one registration:\n%s", len(requests), testenv.FormatSpans(requests))
	}
	server := requests[0]
	if server.Kind != "server" || server.Service != webService || server.ParentSpanID != "" {
		t.Errorf("the request's span: kind %s, service %q, parent %q; want a server span of %s at the root of its trace",
			server.Kind, server.Service, server.ParentSpanID, webService)
	}

	// The web's SQL: gorm's statements, each under the request's span.
	var sql []testenv.Span
	for _, s := range trace {
		if s.Attributes["db.system.name"] == "postgresql" || s.Attributes["db.system"] == "postgresql" {
			sql = append(sql, s)
		}
	}
	webSQL := map[string]bool{} // the statements' text
	for _, s := range sql {
		if s.Kind != "client" {
			t.Errorf("SQL span %q is of kind %s, want client", s.Name, s.Kind)
		}
		if s.Service == webService {
			if !descends(byID, s, server.SpanID) {
				t.Errorf("the web's SQL span %q is not under the request's span", s.Name)
			}
			webSQL[queryText(s)] = true
		}
	}
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`(?i)^INSERT INTO "users"`), regexp.MustCompile(`(?i)^INSERT INTO "outbox"`)} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(webSQL)), want.MatchString) {
			t.Errorf("no SQL span of the web's matches %s; its statements: %q", want, slices.Collect(maps.Keys(webSQL)))
		}
	}

	// The confirmation mail: written to the outbox with the account,
	// relayed to the queue by the web (the producer span), run by the
	// worker (the consumer span, the producer's child across processes).
	enqueue, ok := findSpan(trace, func(s testenv.Span) bool { return s.Name == "enqueue "+users.TaskAccountMail })
	if !ok {
		t.Fatalf("no span enqueue %s in the trace", users.TaskAccountMail)
	}
	if enqueue.Kind != "producer" || enqueue.Service != webService || !descends(byID, enqueue, server.SpanID) {
		t.Errorf("the enqueue span: kind %s, service %q, under the request %v; want a producer of %s under it",
			enqueue.Kind, enqueue.Service, descends(byID, enqueue, server.SpanID), webService)
	}
	// The enqueue's write to the queue: Redis commands (redisotel), in
	// the web, under the producer span.
	if !slices.ContainsFunc(trace, func(s testenv.Span) bool {
		return isRedis(s) && s.Service == webService && s.Kind == "client" && descends(byID, s, enqueue.SpanID)
	}) {
		t.Errorf("no Redis command of the web's under the enqueue span")
	}
	task, _ := findSpan(trace, func(s testenv.Span) bool { return s.Name == "task "+users.TaskAccountMail })
	if task.Kind != "consumer" || task.Service != workerService || task.ParentSpanID != enqueue.SpanID {
		t.Errorf("the task span: kind %s, service %q, parent %s; want a consumer of %s whose parent is the enqueue span %s",
			task.Kind, task.Service, task.ParentSpanID, workerService, enqueue.SpanID)
	}
	if task.Status == "error" {
		t.Errorf("the task failed: %s", task.StatusMessage)
	}
	// The worker looks the account up and sends the mail, in the task.
	if !slices.ContainsFunc(sql, func(s testenv.Span) bool { return s.Service == workerService && descends(byID, s, task.SpanID) }) {
		t.Errorf("no SQL span of the worker's under the task span")
	}
	send, ok := findSpan(trace, func(s testenv.Span) bool { return s.Name == "mail send" })
	if !ok {
		t.Errorf("no span mail send in the trace")
	} else if send.Service != workerService || !descends(byID, send, task.SpanID) || send.Status == "error" || send.Attributes["mail.transport"] != "outbox" {
		t.Errorf("the mail send span: service %q, under the task %v, status %s %s, attributes %v; want a successful span of %s under the task, by the outbox",
			send.Service, descends(byID, send, task.SpanID), send.Status, send.StatusMessage, send.Attributes, workerService)
	}

	// The mail went out, and the secrets of this work (the password, its
	// hash, the link's token) are in no span.
	link := d.outbox.linkTo(t, email, traceWait)
	token := link[strings.LastIndex(link, "/")+1:]
	for _, s := range spans {
		for k, v := range s.Attributes {
			if strings.Contains(v, password) || strings.Contains(v, "$argon2id$") || strings.Contains(v, token) {
				t.Errorf("span %q (%s): attribute %s holds a secret: %.200s", s.Name, s.Service, k, v)
			}
		}
	}

	// The log lines of this work carry its trace, in both processes, and
	// name spans of it.
	for _, p := range []struct {
		name, msg string
		proc      *testenv.Process
	}{
		{"the web", "user registered", web},
		{"the worker", "account mail sent", worker},
	} {
		line, ok := logLine(p.proc.Output(), p.msg)
		switch {
		case !ok:
			t.Errorf("%s logged no line %q", p.name, p.msg)
		case line["trace_id"] != server.TraceID:
			t.Errorf("%s's line %q has trace_id %v, want %s", p.name, p.msg, line["trace_id"], server.TraceID)
		default:
			if id, _ := line["span_id"].(string); byID[id].SpanID == "" {
				t.Errorf("%s's line %q has span_id %v, which is no span of the trace", p.name, p.msg, line["span_id"])
			}
		}
	}

	t.Run("without an endpoint, nothing is exported", func(t *testing.T) {
		// Stop the traced pair first: the untraced worker must be the
		// one that takes the next task.
		for _, p := range []*testenv.Process{web, worker} {
			p.Terminate()
			if code := p.Wait(30 * time.Second); code != 0 {
				t.Fatalf("a traced process exited %d after SIGTERM", code)
			}
		}
		sent := receiver.Requests()
		// A process that exported without being told to would send to the
		// exporter's default address: a receiver waits there too, when
		// the port is free.
		var fallback *testenv.OTLPReceiver
		if l, err := net.Listen("tcp", "127.0.0.1:4318"); err == nil {
			fallback = testenv.StartOTLPOn(t, l)
		} else {
			t.Logf("the exporter's default address 127.0.0.1:4318 is taken (%v): only the test's receiver is watched", err)
		}
		// Every other OTEL_* setting of the traced run stays, and the
		// receiver's address is in variables of other signals.
		untraced := d.with("OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_TRACES_SAMPLER=always_on",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="+receiver.Endpoint()+"/v1/metrics",
			"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="+receiver.Endpoint()+"/v1/logs")
		web, base := untraced.web(t)
		worker := untraced.worker(t)
		const email = "grace@example.com"
		register(t, base, email, password)
		d.outbox.linkTo(t, email, traceWait)
		// Stopped, each process flushes what it buffered: anything it had
		// exported would have been sent by the time it exits.
		for _, p := range []*testenv.Process{web, worker} {
			p.Terminate()
			if code := p.Wait(30 * time.Second); code != 0 {
				t.Errorf("an untraced process exited %d after SIGTERM", code)
			}
			if out := p.Output(); strings.Contains(out, "tracing is on") || strings.Contains(out, `"trace_id"`) {
				t.Errorf("a process started without an endpoint traced:\n%s", out)
			}
		}
		if n := receiver.Requests() - sent; n != 0 {
			t.Errorf("the receiver got %d requests from processes started without an endpoint", n)
		}
		if fallback != nil && fallback.Requests() != 0 {
			t.Errorf("the exporter's default address got %d requests from processes started without an endpoint", fallback.Requests())
		}
	})
}

// with returns the deployment with env added to its processes' settings.
func (d *deployment) with(env ...string) *deployment {
	return &deployment{env: append(slices.Clip(d.env), env...), lb: d.lb, outbox: d.outbox}
}

// register posts the registration form to the web at base, as a browser
// on the same site would (the cross-origin check passes a request with no
// Origin), and fails unless it is accepted.
func register(t *testing.T, base, email, password string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/user/register", url.Values{"email": {email}, "password": {password}, "retype_password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("registering %s = %s, want 303", email, resp.Status)
	}
}

func findSpan(spans []testenv.Span, match func(testenv.Span) bool) (testenv.Span, bool) {
	if i := slices.IndexFunc(spans, match); i >= 0 {
		return spans[i], true
	}
	return testenv.Span{}, false
}

func inTrace(spans []testenv.Span, traceID string) []testenv.Span {
	var out []testenv.Span
	for _, s := range spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// descends reports whether s is ancestor or has it among its ancestors,
// following parents through byID (the spans of one trace).
func descends(byID map[string]testenv.Span, s testenv.Span, ancestor string) bool {
	for seen := 0; seen <= len(byID); seen++ {
		if s.SpanID == ancestor || s.ParentSpanID == ancestor {
			return true
		}
		parent, ok := byID[s.ParentSpanID]
		if !ok {
			return false
		}
		s = parent
	}
	return false // a cycle: no tree
}

// isRedis reports whether s is a Redis command's span (redisotel writes
// the older semantic conventions' db.system).
func isRedis(s testenv.Span) bool {
	return s.Attributes["db.system"] == "redis" || s.Attributes["db.system.name"] == "redis"
}

// queryText is an SQL span's statement, under the attribute of current
// semantic conventions or of older ones.
func queryText(s testenv.Span) string {
	if q := s.Attributes["db.query.text"]; q != "" {
		return q
	}
	return s.Attributes["db.statement"]
}

// logLine finds the first JSON log line whose msg is msg in a process's
// output.
func logLine(output, msg string) (map[string]any, bool) {
	for line := range strings.Lines(output) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			return rec, true
		}
	}
	return nil, false
}
