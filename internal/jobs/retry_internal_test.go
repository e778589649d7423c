package jobs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// TestATaskWhoseWorkerDiedRunsAgainAtOnce: asynq hands a task whose lease
// expired (its worker was killed) to the retry delay like a failure; it
// gets none of the backoff a failing task gets.
func TestATaskWhoseWorkerDiedRunsAgainAtOnce(t *testing.T) {
	task := asynq.NewTask("mail:send", nil)
	if d := retryDelay(3, fmt.Errorf("recovered: %w", asynq.ErrLeaseExpired), task); d > time.Second {
		t.Errorf("lease expired: retry in %s, want at most 1s", d)
	}
	if d := retryDelay(3, errors.New("smtp: 451 try later"), task); d < 10*time.Second {
		t.Errorf("a failure: retry in %s, want asynq's backoff (at least 3^4 s)", d)
	}
}
