package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"net/http"
	"sync"
	"time"
)

// loadSpec is one closed-loop load run: conns connections, each sending
// its next request as soon as the previous answer has been read, for
// warmup (not recorded) and then duration (recorded).
type loadSpec struct {
	conns    int
	warmup   time.Duration
	duration time.Duration
	// request makes the next request of connection c. It must not be
	// shared between calls: the transport owns what it is given.
	request func(c int) *http.Request
	// status is the answer every request must get; any other is an error.
	status int
	// localAddr, when set, is the address connection c sends from (a
	// loopback address of its own, to act as a distinct client).
	localAddr func(c int) net.IP
}

// loadResult is what a run measured.
type loadResult struct {
	requests int64
	errors   int64
	// all is every request answered as expected, warm-up included.
	all int64
	// firstErr describes the first failed request, if any.
	firstErr  error
	elapsed   time.Duration
	latencies *histogram
}

// perSecond is the throughput of the recorded part of the run.
func (r loadResult) perSecond() float64 {
	return float64(r.requests) / r.elapsed.Seconds()
}

// runLoad drives the spec against its server and returns what the
// recorded part measured. Each connection has a transport of its own
// holding exactly one keep-alive connection, so conns is the real number
// of connections the server sees.
func runLoad(ctx context.Context, spec loadSpec) loadResult {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    = newHistogram()
		requests int64
		all      int64
		failures int64
		firstErr error
	)
	start := time.Now()
	recordFrom := start.Add(spec.warmup)
	stopAt := recordFrom.Add(spec.duration)
	for c := range spec.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := newClient(spec, c)
			defer client.CloseIdleConnections()
			h := newHistogram()
			var n, bad, every int64
			var errc error
			for {
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				if !t0.Before(stopAt) {
					break
				}
				err := doOne(client, spec.request(c), spec.status)
				d := time.Since(t0)
				if err == nil {
					every++
				}
				if t0.Before(recordFrom) {
					continue
				}
				if err != nil {
					bad++
					if errc == nil {
						errc = err
					}
					continue
				}
				n++
				h.record(d)
			}
			mu.Lock()
			defer mu.Unlock()
			total.merge(h)
			requests += n
			all += every
			failures += bad
			if firstErr == nil {
				firstErr = errc
			}
		}()
	}
	wg.Wait()
	return loadResult{requests: requests, all: all, errors: failures, firstErr: firstErr, elapsed: spec.duration, latencies: total}
}

// newClient is connection c's HTTP client: one keep-alive connection,
// no cookie jar (requests carry their own cookies), no redirects followed.
func newClient(spec loadSpec, c int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if spec.localAddr != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: spec.localAddr(c)}
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// doOne sends req, reads the whole answer and checks its status.
func doOne(client *http.Client, req *http.Request, status int) error {
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if err != nil {
		return fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL.Path, err)
	}
	if res.StatusCode != status {
		return fmt.Errorf("%s %s: status %d, want %d", req.Method, req.URL.Path, res.StatusCode, status)
	}
	return nil
}

// histogram counts latencies in logarithmic buckets with subBuckets
// linear steps per power of two: every recorded value is within about
// 3% of its bucket's bounds, from a microsecond to over an hour, in a
// fixed 2 KiB that recording never grows.
type histogram struct {
	counts [histBuckets]int64
	n      int64
	max    time.Duration
}

const (
	subBucketBits = 5
	subBuckets    = 1 << subBucketBits
	// Values below subBuckets microseconds get exact buckets; each power
	// of two above that gets subBuckets of them.
	histBuckets = subBuckets * (64 - subBucketBits + 1)
)

func newHistogram() *histogram { return &histogram{} }

// bucketOf maps a latency in microseconds to its bucket.
func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - subBucketBits // ≥ 1
	sub := us >> (exp - 1)                // subBuckets ≤ sub < 2*subBuckets
	return exp*subBuckets + int(sub-subBuckets)
}

// bucketUpper is the largest latency, in microseconds, bucket i holds.
func bucketUpper(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	exp, sub := i/subBuckets, uint64(i%subBuckets)+subBuckets
	return (sub+1)<<(exp-1) - 1
}

func (h *histogram) record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[bucketOf(uint64(us))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the latency q (0 < q ≤ 1) of the recorded ones are at or
// below, to the histogram's precision; never more than the largest seen.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketUpper(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}

// errNoRequests is a run that completed no request at all.
var errNoRequests = errors.New("no request completed")
