package testenv

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// ServedBy is the response header in which a RoundRobin names the backend
// (its base URL) that answered the request.
const ServedBy = "X-Served-By"

// probeInterval is how often a RoundRobin asks each backend's /readyz, as
// a load balancer's health check does; probeTimeout is how long it waits
// for the answer (/readyz answers within 2 s, even when a check hangs).
const (
	probeInterval = 100 * time.Millisecond
	probeTimeout  = 3 * time.Second
)

// RoundRobin is a load balancer for tests: an HTTPS reverse proxy on a
// loopback port (TLS ends here, as at a real balancer, so Secure cookies
// work) that sends each request to the next backend in rotation — per
// request, not per connection, so consecutive requests of one client land
// on different backends — over kept-alive connections. It replaces
// X-Forwarded-For with the client's address, as an edge proxy does.
//
// Like a balancer's health check it asks every backend's /readyz every
// 100 ms: a backend is in rotation after a 200 and out of it after
// anything else (a draining process's 503, a refused connection), until
// the next 200. With no backend in rotation it answers 503.
type RoundRobin struct {
	server    *httptest.Server
	transport *http.Transport
	probe     *http.Client

	mu       sync.Mutex
	backends []*backend // in the order added
	next     int
	served   map[string]int
	errors   []string
}

type backend struct {
	base    string
	proxy   *httputil.ReverseProxy
	healthy bool
	stop    chan struct{}
	done    chan struct{}
}

// NewRoundRobin starts a balancer with no backends; it stops when the test
// ends.
func NewRoundRobin(t testing.TB) *RoundRobin {
	t.Helper()
	rr := &RoundRobin{
		transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		probe: &http.Client{
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
			Timeout:   probeTimeout,
		},
		served: map[string]int{},
	}
	rr.server = httptest.NewUnstartedServer(http.HandlerFunc(rr.serve))
	rr.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	rr.server.StartTLS()
	t.Cleanup(func() {
		rr.mu.Lock()
		backends := slices.Clone(rr.backends)
		rr.mu.Unlock()
		for _, b := range backends {
			rr.Remove(b.base)
		}
		rr.server.Close()
		rr.transport.CloseIdleConnections()
	})
	return rr
}

// URL is the balancer's base URL (https://127.0.0.1:port).
func (rr *RoundRobin) URL() string { return rr.server.URL }

// Client returns a client of the balancer (it trusts its certificate)
// whose connections come from the loopback address from (127.0.0.2,
// 127.0.0.3, …: each its own client address to the backends), with no
// cookie jar and following no redirects.
func (rr *RoundRobin) Client(from string) *http.Client {
	base := rr.server.Client().Transport.(*http.Transport)
	tr := base.Clone()
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	tr.DialContext = dialer.DialContext
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// Add puts the backend at base (http://host:port) under health checks: it
// enters the rotation once its /readyz answers 200.
func (rr *RoundRobin) Add(base string) {
	target, err := url.Parse(base)
	if err != nil {
		panic(fmt.Sprintf("testenv: backend %q: %v", base, err))
	}
	b := &backend{base: base, stop: make(chan struct{}), done: make(chan struct{})}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the site's name, not the backend's
			r.SetXForwarded()      // the client's address, replacing any it sent
		},
		Transport: rr.transport,
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			rr.mu.Lock()
			rr.errors = append(rr.errors, fmt.Sprintf("%s %s via %s: %v", r.Method, r.URL.Path, base, err))
			rr.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	rr.mu.Lock()
	rr.backends = append(rr.backends, b)
	rr.mu.Unlock()
	go rr.watch(b)
}

// Remove takes the backend at base out of the balancer for good.
func (rr *RoundRobin) Remove(base string) {
	rr.mu.Lock()
	i := slices.IndexFunc(rr.backends, func(b *backend) bool { return b.base == base })
	if i < 0 {
		rr.mu.Unlock()
		return
	}
	b := rr.backends[i]
	rr.backends = slices.Delete(rr.backends, i, i+1)
	rr.mu.Unlock()
	close(b.stop)
	<-b.done
}

// watch probes b's /readyz every probeInterval until b is removed.
func (rr *RoundRobin) watch(b *backend) {
	defer close(b.done)
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		healthy := rr.ready(b.base)
		rr.mu.Lock()
		b.healthy = healthy
		rr.mu.Unlock()
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

func (rr *RoundRobin) ready(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := rr.probe.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// serve sends r to the next backend in rotation.
func (rr *RoundRobin) serve(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	var healthy []*backend
	for _, b := range rr.backends {
		if b.healthy {
			healthy = append(healthy, b)
		}
	}
	if len(healthy) == 0 {
		rr.errors = append(rr.errors, fmt.Sprintf("%s %s: no backend in rotation", r.Method, r.URL.Path))
		rr.mu.Unlock()
		http.Error(w, "no backend in rotation", http.StatusServiceUnavailable)
		return
	}
	b := healthy[rr.next%len(healthy)]
	rr.next++
	rr.served[b.base]++
	rr.mu.Unlock()
	w.Header().Set(ServedBy, b.base)
	b.proxy.ServeHTTP(w, r)
}

// InRotation lists the backends requests go to now.
func (rr *RoundRobin) InRotation() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	var out []string
	for _, b := range rr.backends {
		if b.healthy {
			out = append(out, b.base)
		}
	}
	return out
}

// WaitRotation waits until whether base is in rotation is in, and fails
// the test after timeout.
func (rr *RoundRobin) WaitRotation(t testing.TB, base string, in bool, timeout time.Duration) {
	t.Helper()
	WaitUntil(t, fmt.Sprintf("%s %s the rotation", base, map[bool]string{true: "in", false: "out of"}[in]), timeout, 10*time.Millisecond, func() bool {
		return slices.Contains(rr.InRotation(), base) == in
	})
}

// Served counts the requests sent to each backend so far.
func (rr *RoundRobin) Served() map[string]int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make(map[string]int, len(rr.served))
	for k, v := range rr.served {
		out[k] = v
	}
	return out
}

// Errors lists the requests the balancer could not pass on (no backend in
// rotation, a backend that failed to answer), each with its cause.
func (rr *RoundRobin) Errors() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return slices.Clone(rr.errors)
}
