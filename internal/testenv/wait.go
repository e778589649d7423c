package testenv

import (
	"testing"
	"time"
)

// WaitUntil polls cond every interval until it holds, and fails the test
// after timeout, naming what it waited for: a test waits on a condition,
// never on a sleep that hopes it holds by then.
func WaitUntil(t testing.TB, what string, timeout, interval time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
