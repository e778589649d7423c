//go:build !nodev

package redisconn

import (
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-memory Redis inside this process, for development
// without services. Its data is gone when the process exits.
type Embedded struct {
	server *miniredis.Miniredis
	stop   chan struct{}
	done   chan struct{}
}

// StartEmbedded starts one on a free loopback port.
func StartEmbedded() (*Embedded, error) {
	s := miniredis.NewMiniRedis()
	if err := s.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	e := &Embedded{server: s, stop: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	return e, nil
}

// tick moves miniredis's clock for key expiry, which it does not do by
// itself: without it asynq's heartbeats and locks would never expire.
func (e *Embedded) tick() {
	defer close(e.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.server.FastForward(time.Second)
		case <-e.stop:
			return
		}
	}
}

// URL is the redis:// URL to reach it.
func (e *Embedded) URL() string { return "redis://" + e.server.Addr() + "/0" }

// Close stops it.
func (e *Embedded) Close() {
	close(e.stop)
	<-e.done
	e.server.Close()
}
