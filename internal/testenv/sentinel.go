package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the primary's name in the Sentinel set Sentinels
// starts.
const SentinelMaster = "launchkit"

// Sentinels starts, on free loopback ports, a Redis primary, one replica
// of it and three Sentinels watching them (quorum 2, a primary counted
// down after 1 s), waits until they all know each other, and returns the
// REDIS_URL that reaches the primary through them and a function that
// kills the primary (SIGKILL). Everything stops when the test ends. It
// skips the test when redis-server is not installed.
func Sentinels(t testing.TB) (redisURL string, killPrimary func()) {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: skipping the Sentinel test (apt-get install redis-server redis-sentinel)")
	}
	dir := t.TempDir()
	start := func(name, conf string, args ...string) (*exec.Cmd, int) {
		t.Helper()
		port := FreePort(t)
		path := filepath.Join(dir, name+".conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir %s\n%s", port, dir, conf)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(server, append([]string{path}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, port
	}
	primary, primaryPort := start("primary", "")
	_, replicaPort := start("replica", fmt.Sprintf("replicaof 127.0.0.1 %d\n", primaryPort))
	var sentinels []string
	for i := range 3 {
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n", SentinelMaster, primaryPort)
		_, port := start(fmt.Sprintf("sentinel%d", i), conf, "--sentinel")
		sentinels = append(sentinels, fmt.Sprintf("127.0.0.1:%d", port))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	until := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("the Sentinel set did not come up: %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	replica := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", replicaPort)})
	defer replica.Close()
	until("the replica's link to the primary", func() bool {
		info, err := replica.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	for _, addr := range sentinels {
		s := redis.NewSentinelClient(&redis.Options{Addr: addr})
		until("sentinel "+addr+" seeing the replica and the other sentinels", func() bool {
			replicas, err1 := s.Replicas(ctx, SentinelMaster).Result()
			others, err2 := s.Sentinels(ctx, SentinelMaster).Result()
			return err1 == nil && err2 == nil && len(replicas) == 1 && len(others) == 2
		})
		_ = s.Close()
	}
	return fmt.Sprintf("redis+sentinel://%s/%s/0", strings.Join(sentinels, ","), SentinelMaster), func() {
		_ = primary.Process.Kill()
	}
}

// FreePort returns a loopback port nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	// A port the kernel hands out for ":0" is one it may hand out again
	// at once, to the next process that listens on ":0" (a web binary
	// started with ADDR=127.0.0.1:0) or to an outgoing connection: then
	// the process meant to take this one finds it taken. Ports below the
	// ephemeral range are never handed out that way, so take a free one
	// of those, at random.
	for range 50 {
		port := 20000 + rand.IntN(12000) // 20000–31999, below Linux's 32768–60999
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
