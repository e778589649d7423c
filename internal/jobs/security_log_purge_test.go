package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/testenv"
)

func TestSecurityLogPurgeTaskDeletesEventsPastTheRetention(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			d := testenv.MigratedDB(t, dialect.URL(t))
			now := time.Now().UTC()
			rows := []seclog.Event{
				{Kind: seclog.SignIn, Detail: "old", CreatedAt: now.Add(-91 * 24 * time.Hour)},
				{Kind: seclog.SignInFailed, Detail: "old", CreatedAt: now.Add(-400 * 24 * time.Hour)},
				{Kind: seclog.SignIn, Detail: "kept", CreatedAt: now.Add(-89 * 24 * time.Hour)},
				{Kind: seclog.SignOut, Detail: "kept", CreatedAt: now.Add(-time.Minute)},
			}
			if err := d.Gorm.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			h := &jobs.Handlers{Events: seclog.New(d.Gorm, discard, nil), SecurityLogRetention: 90 * 24 * time.Hour, Logger: discard}
			if err := h.Mux().ProcessTask(context.Background(), asynq.NewTask(jobs.TypeSecurityLogPurge, nil)); err != nil {
				t.Fatal(err)
			}
			var left []string
			if err := d.Gorm.Raw("SELECT detail FROM security_events").Scan(&left).Error; err != nil {
				t.Fatal(err)
			}
			if len(left) != 2 || left[0] != "kept" || left[1] != "kept" {
				t.Errorf("left = %v, want the two kept", left)
			}
		})
	}
}

func TestSecurityLogPurgeIsDaily(t *testing.T) {
	for _, task := range jobs.Tasks {
		if task.Type == jobs.TypeSecurityLogPurge {
			if task.Schedule != "@daily" {
				t.Errorf("schedule = %q", task.Schedule)
			}
			return
		}
	}
	t.Fatal("security-log:purge is not in jobs.Tasks")
}
