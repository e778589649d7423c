//go:build nodev

package redisconn_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/redisconn"
)

// TestANodevBuildRefusesTheEmbeddedRedis: a production build says why
// there is no embedded Redis and what to do instead.
func TestANodevBuildRefusesTheEmbeddedRedis(t *testing.T) {
	e, err := redisconn.StartEmbedded()
	if e != nil || !errors.Is(err, redisconn.ErrNoEmbedded) || !strings.Contains(err.Error(), "set REDIS_URL") {
		t.Errorf("StartEmbedded() = %v, %v; want ErrNoEmbedded", e, err)
	}
}
