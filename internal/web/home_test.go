package web_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// signIn signs an existing account in (its password is "password for "
// and its email, as signedIn and createConfirmed make them).
func (s *site) signIn(email string) *visitor {
	s.t.Helper()
	v := s.visitor()
	v.post("/user/sign-in", "email", email, "password", "password for "+email).redirectsTo("/")
	return v
}

// createConfirmed makes an account whose address is confirmed.
func (s *site) createConfirmed(email string, roles ...string) *users.User {
	s.t.Helper()
	u, err := s.app.Users.CreateConfirmed(context.Background(), email, "password for "+email, roles...)
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

// TestHomeForANewUnconfirmedUser: a new account is greeted by its
// address, told to confirm it (the first next step, with the page that
// sends a new link), and sees neither API keys (its role may hold none)
// nor the site's counts. Once confirmed, the step is gone.
func TestHomeForANewUnconfirmedUser(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.signedIn("new@example.com")
	page := v.get("/").status(200).
		contains("Welcome back, new@example.com", "Not confirmed", `href="/user/resend-confirmation"`, "Confirm your email address",
			"Add your name", `href="/user/change-password"`, "Sign out everywhere else", "Local account", `>user</span>`).
		lacks(`id="apikeys-title"`, "Create an API key", `id="users-total"`, `id="jobs-title"`, "You are all set").body
	if c, n := strings.Index(page, "Confirm your email address"), strings.Index(page, "Add your name"); c > n {
		t.Error("confirming the address is not the first next step")
	}

	u, err := s.app.Users.ByEmail(context.Background(), "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.DB.Gorm.Exec("UPDATE users SET email_confirmed_at = ?, name = ? WHERE id = ?", time.Now().UTC(), "Grace", u.ID).Error; err != nil {
		t.Fatal(err)
	}
	v.get("/").status(200).
		contains("Welcome back, Grace", "Confirmed", "You are all set").
		lacks("Not confirmed", `href="/user/resend-confirmation"`, "Add your name")
}

// TestHomeShowsRolesAndAPIKeys: a developer sees their roles and the
// number of their live keys (revoked ones and other people's do not
// count), with the step to create one while they have none; on every
// database, since the count rides in the user's own query — and the page
// still runs two statements.
func TestHomeShowsRolesAndAPIKeys(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, map[string]string{"DATABASE_URL": dialect.URL(t)})
			ada := s.createConfirmed("ada@example.com", users.RoleDev)
			other := s.createConfirmed("bob@example.com", users.RoleDev)
			v := s.signIn("ada@example.com")
			v.get("/").status(200).
				contains("Confirmed", `>dev</span>`, `>user</span>`, `id="apikey-count">0<`, "Create a key", "Create an API key").
				lacks("Not confirmed", `href="/user/resend-confirmation"`, `>admin</span>`)

			ctx := context.Background()
			var first *users.APIKey
			for i := range 3 {
				k, _, err := s.app.Users.CreateAPIKey(ctx, ada.ID, fmt.Sprintf("key %d", i))
				if err != nil {
					t.Fatal(err)
				}
				first = k
			}
			if _, _, err := s.app.Users.CreateAPIKey(ctx, other.ID, "not ada's"); err != nil {
				t.Fatal(err)
			}
			if err := s.app.Users.RevokeAPIKey(ctx, ada.ID, first.ID); err != nil {
				t.Fatal(err)
			}
			v.get("/").status(200).
				contains(`id="apikey-count">2<`, "in use, of at most 20", "Manage keys").
				lacks("Create an API key", "Create a key")
			if n := s.queriesOf("/"); n != "2" {
				t.Errorf("the signed-in home page ran %s queries, want 2", n)
			}
		})
	}
}

// queueCounts are the job counts as asynq's Inspector reads them.
func queueCounts(t *testing.T, s *site) jobs.JobStats {
	t.Helper()
	in := asynq.NewInspectorFromRedisClient(s.app.Redis)
	queues, err := in.Queues()
	if err != nil {
		t.Fatal(err)
	}
	var st jobs.JobStats
	for _, q := range queues {
		info, err := in.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		st.Pending, st.Active, st.Scheduled, st.Retry, st.Archived = st.Pending+info.Pending, st.Active+info.Active, st.Scheduled+info.Scheduled, st.Retry+info.Retry, st.Archived+info.Archived
	}
	return st
}

// count is a SQL count of users.
func count(t *testing.T, s *site, where string) int64 {
	t.Helper()
	var n int64
	q := s.app.DB.Gorm.Table("users")
	if where != "" {
		q = q.Where(where)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAdminHomeCountsUsersAndJobs: an admin's home and /admin show the
// numbers of accounts (all, active, unconfirmed) that the database holds
// and the numbers of jobs (queued, scheduled, to retry, failed) that the
// queue holds, with links to their pages; someone else sees none.
func TestAdminHomeCountsUsersAndJobs(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	s.createConfirmed("dev@example.com", users.RoleDev)
	gone := s.createConfirmed("gone@example.com")
	if err := s.app.DB.Gorm.Exec("UPDATE users SET active = ? WHERE id = ?", false, gone.ID).Error; err != nil {
		t.Fatal(err)
	}
	user := s.signedIn("user@example.com")

	ctx := context.Background()
	for range 2 {
		if err := s.app.Jobs.EnqueueMail(ctx, mail.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"}); err != nil {
			t.Fatal(err)
		}
	}
	aq := asynq.NewClientFromRedisClient(s.app.Redis)
	if _, err := aq.Enqueue(asynq.NewTask("later", nil), asynq.Queue(jobs.QueueLow), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	doomed, err := aq.Enqueue(asynq.NewTask("doomed", nil), asynq.Queue(jobs.QueueDefault))
	if err != nil {
		t.Fatal(err)
	}
	if err := asynq.NewInspectorFromRedisClient(s.app.Redis).ArchiveTask(jobs.QueueDefault, doomed.ID); err != nil {
		t.Fatal(err)
	}

	q := queueCounts(t, s)
	if q.Pending < 2 || q.Scheduled != 1 || q.Archived != 1 {
		t.Fatalf("the queue holds %+v: the test's tasks are not all there", q)
	}
	total, active, unconfirmed := count(t, s, ""), count(t, s, "active = true"), count(t, s, "email_confirmed_at IS NULL")
	if total != 4 || active != 3 || unconfirmed != 2 {
		t.Fatalf("users: %d, %d active, %d unconfirmed; the test expects 4, 3, 2", total, active, unconfirmed)
	}
	want := []string{
		fmt.Sprintf(`id="users-total">%d<`, total), fmt.Sprintf(`id="users-active">%d<`, active), fmt.Sprintf(`id="users-unconfirmed">%d<`, unconfirmed),
		fmt.Sprintf(`id="jobs-queued">%d<`, q.Queued()), fmt.Sprintf(`id="jobs-scheduled">%d<`, q.Scheduled),
		fmt.Sprintf(`id="jobs-retry">%d<`, q.Retry), fmt.Sprintf(`id="jobs-failed">%d<`, q.Archived),
		`href="/admin/users"`, `href="/admin/jobs"`,
	}
	admin.get("/").status(200).contains(want...).contains(">admin</span>", "Look at the failed jobs").lacks("Job counts are unavailable")
	admin.get("/admin").status(200).contains(want...).contains(`id="role-admin">1<`, `id="role-dev">1<`, `id="role-user">4<`, `id="users-confirmed">2<`)
	user.get("/").status(200).lacks(`id="users-total"`, `id="jobs-queued"`, "Look at the failed jobs")
}

// TestAdminHomeWhenRedisIsDown: without Redis the job counts say they
// are unavailable, and the pages still answer 200 with the users' counts.
func TestAdminHomeWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	_ = s.app.Redis.Close()
	for _, path := range []string{"/", "/admin"} {
		start := time.Now()
		admin.get(path).status(200).contains("Job counts are unavailable", `id="users-total">1<`).lacks(`id="jobs-queued"`)
		if d := time.Since(start); d > jobs.StatsTimeout+2*time.Second {
			t.Errorf("%s took %s with Redis down", path, d)
		}
	}
	if !strings.Contains(s.logs.String(), "job queue counts unavailable") {
		t.Error("the failure to count the jobs was not logged")
	}
	if _, err := s.app.Jobs.Stats(context.Background()); !errors.Is(err, jobs.ErrStatsUnavailable) {
		t.Errorf("Stats with Redis closed: %v", err)
	}
}

// TestHomeLandingForVisitors: a visitor sees the product's name, its
// pitch, sign-in and — only while registration is open — the way to
// create an account, and three feature cards.
func TestHomeLandingForVisitors(t *testing.T) {
	t.Parallel()
	open := newSite(t, map[string]string{"APP_NAME": "Acme"}).get("/").status(200).
		contains(`<section class="hero">`, "<h1>Acme</h1>", `class="button button-primary" href="/user/register">Create account`, `href="/user/sign-in">Sign in`).
		lacks("Welcome back", `id="account-title"`).body
	if n := strings.Count(open, `<section class="card"`); n != 3 {
		t.Errorf("%d feature cards, want 3", n)
	}
	newSite(t, map[string]string{"APP_NAME": "Acme", "USER_ENABLE_REGISTER": "false"}).get("/").status(200).
		contains("<h1>Acme</h1>", `class="button button-primary" href="/user/sign-in">Sign in`).
		lacks(`href="/user/register"`, "Create account")
}
