package testenv

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SentryPublicKey is the key in a SentryServer's DSN: a report must carry
// it (X-Sentry-Auth) to be taken, as a real tracker requires.
const SentryPublicKey = "publickey"

// SentryServer is a local error tracker speaking Sentry's envelope
// protocol (POST /api/<project>/envelope/, the envelope a header line,
// then an item header line and a payload per item), as Sentry, GlitchTip
// and Bugsink do. It keeps every body it got, decompressed, for tests to
// read what was sent — and search it for what must not have been.
type SentryServer struct {
	server *httptest.Server

	mu     sync.Mutex
	bodies [][]byte
	events []SentryEvent
	errs   []error
}

// SentryEvent is one event item a SentryServer received: the fields the
// tests read, and the whole payload.
type SentryEvent struct {
	EventID     string            `json:"event_id"`
	Level       string            `json:"level"`
	Environment string            `json:"environment"`
	Release     string            `json:"release"`
	Transaction string            `json:"transaction"`
	Message     string            `json:"message"`
	Tags        map[string]string `json:"tags"`
	User        struct {
		ID        string `json:"id"`
		Email     string `json:"email"`
		IPAddress string `json:"ip_address"`
	} `json:"user"`
	Contexts map[string]map[string]any `json:"contexts"`
	Request  json.RawMessage           `json:"request"`
	// Exceptions are the event's exceptions, outermost last (the
	// protocol's "exception", a list or {"values": […]}).
	Exceptions []SentryException `json:"-"`
	Payload    json.RawMessage   `json:"-"`
}

// SentryException is one exception of an event.
type SentryException struct {
	Type      string `json:"type"`
	Value     string `json:"value"`
	Mechanism *struct {
		Type    string `json:"type"`
		Handled *bool  `json:"handled"`
	} `json:"mechanism"`
	Stacktrace *struct {
		Frames []struct {
			Function string         `json:"function"`
			Module   string         `json:"module"`
			Lineno   int            `json:"lineno"`
			Vars     map[string]any `json:"vars"`
		} `json:"frames"`
	} `json:"stacktrace"`
}

// Functions lists the functions of the exception's stack, as
// module.function, outermost first.
func (x SentryException) Functions() []string {
	if x.Stacktrace == nil {
		return nil
	}
	var out []string
	for _, f := range x.Stacktrace.Frames {
		out = append(out, f.Module+"."+f.Function)
	}
	return out
}

// StartSentryServer starts a SentryServer on loopback until the test
// ends. Envelopes that do not parse fail the test at its end.
func StartSentryServer(t testing.TB) *SentryServer {
	t.Helper()
	s := &SentryServer{}
	s.server = httptest.NewServer(http.HandlerFunc(s.envelope))
	t.Cleanup(func() {
		s.server.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, err := range s.errs {
			t.Errorf("sentry server: %v", err)
		}
	})
	return s
}

// DSN is the SENTRY_DSN that reports to this server, project 1.
func (s *SentryServer) DSN() string {
	return strings.Replace(s.server.URL, "http://", "http://"+SentryPublicKey+"@", 1) + "/1"
}

func (s *SentryServer) envelope(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/1/envelope/" {
		s.fail(fmt.Errorf("%s %s: not the envelope endpoint of project 1", r.Method, r.URL.Path))
		http.NotFound(w, r)
		return
	}
	if auth := r.Header.Get("X-Sentry-Auth"); !strings.Contains(auth, "sentry_key="+SentryPublicKey) {
		s.fail(fmt.Errorf("X-Sentry-Auth %q lacks the public key", auth))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.fail(err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	events, err := parseEnvelope(body)
	if err != nil {
		s.fail(fmt.Errorf("%w in:\n%s", err, body))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.events = append(s.events, events...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{}`)
}

func (s *SentryServer) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

// readBody reads a request body, undoing its Content-Encoding.
func readBody(r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		body = gz
	case "deflate":
		body = flate.NewReader(r.Body)
	default:
		return nil, fmt.Errorf("unknown Content-Encoding %q", enc)
	}
	return io.ReadAll(io.LimitReader(body, 10<<20))
}

// parseEnvelope reads an envelope: a JSON header line, then items, each
// a JSON header line ({"type": …, "length": n}) and a payload of length
// bytes — or, without length, up to the next newline. It returns the
// event items.
func parseEnvelope(body []byte) ([]SentryEvent, error) {
	rd := bufio.NewReader(bytes.NewReader(body))
	line, err := rd.ReadBytes('\n')
	var header map[string]any
	if jerr := json.Unmarshal(bytes.TrimSpace(line), &header); jerr != nil || (err != nil && err != io.EOF) {
		return nil, fmt.Errorf("envelope header %q: %v", line, jerr)
	}
	var events []SentryEvent
	for {
		line, err := rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 && err == io.EOF {
			return events, nil
		}
		var item struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(line), &item); err != nil || item.Type == "" {
			return nil, fmt.Errorf("item header %q: %v", line, err)
		}
		var payload []byte
		if item.Length != nil {
			payload = make([]byte, *item.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				return nil, fmt.Errorf("item %s: payload shorter than its length %d", item.Type, *item.Length)
			}
			if b, err := rd.ReadByte(); err == nil && b != '\n' {
				_ = rd.UnreadByte()
			}
		} else {
			payload, _ = rd.ReadBytes('\n')
			payload = bytes.TrimSuffix(payload, []byte("\n"))
		}
		if item.Type != "event" {
			continue // client reports, sessions: not what the tests read
		}
		e, err := parseEvent(payload)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
}

func parseEvent(payload []byte) (SentryEvent, error) {
	var e SentryEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, fmt.Errorf("event payload: %w", err)
	}
	e.Payload = payload
	var raw struct {
		Exception json.RawMessage `json:"exception"`
	}
	_ = json.Unmarshal(payload, &raw)
	if len(raw.Exception) > 0 && raw.Exception[0] == '{' {
		var wrapped struct {
			Values []SentryException `json:"values"`
		}
		if err := json.Unmarshal(raw.Exception, &wrapped); err != nil {
			return e, fmt.Errorf("event exception: %w", err)
		}
		e.Exceptions = wrapped.Values
	} else if len(raw.Exception) > 0 {
		if err := json.Unmarshal(raw.Exception, &e.Exceptions); err != nil {
			return e, fmt.Errorf("event exception: %w", err)
		}
	}
	return e, nil
}

// Events returns the events received so far.
func (s *SentryServer) Events() []SentryEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentryEvent(nil), s.events...)
}

// Raw is every envelope received so far, decompressed, as one text: what
// left the app, to search for what must not have.
func (s *SentryServer) Raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.bodies, []byte("\n")))
}

// WaitForEvents waits until n events have arrived (reports are sent in
// the background), failing the test after timeout, and returns them.
func (s *SentryServer) WaitForEvents(t testing.TB, n int, timeout time.Duration) []SentryEvent {
	t.Helper()
	WaitUntil(t, strconv.Itoa(n)+" event(s) at the sentry server", timeout, 10*time.Millisecond, func() bool {
		return len(s.Events()) >= n
	})
	return s.Events()
}

// String describes the server for failure messages.
func (s *SentryServer) String() string {
	return "sentry server at " + s.server.URL + " (" + strconv.Itoa(len(s.Events())) + " events)"
}
