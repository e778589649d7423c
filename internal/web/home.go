package web

import (
	"context"
	"net/http"

	"github.com/launchkit/launchkit/internal/cache"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/users"
)

// homePage is the landing page for visitors and, for a signed-in user,
// a dashboard of their account (templates/pages/home.html). For anyone
// but an admin it costs nothing beyond loading the user: ByID counts the
// API keys in the same statement. An admin's counts come from the cache
// (users) and from the job client's short-lived copy (jobs).
func (s *Server) homePage(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r)
	if u == nil {
		return s.render(w, r, http.StatusOK, "pages/home.html", nil)
	}
	d := &homeData{
		Name: u.Name, MemberSince: u.CreatedAt.UTC().Format("2 January 2006"),
		MayUseAPIKeys: u.MayUseAPIKeys(), MaxAPIKeys: users.MaxAPIKeys, SessionsListed: s.sessionsListed(),
	}
	if d.Name == "" {
		d.Name = u.Email
	}
	if u.HasRole(users.RoleAdmin) {
		counts, err := s.loadAdminCounts(r.Context())
		if err != nil {
			return err
		}
		d.Admin = &counts
	}
	d.Steps = newNextSteps(u, d.MayUseAPIKeys, d.Admin)
	return s.render(w, r, http.StatusOK, "pages/home.html", d)
}

// homeData is the data of the signed-in home page.
type homeData struct {
	// Name is how the page greets the user: their name, else their email.
	Name string
	// MemberSince is the day the account was made.
	MemberSince string
	// MayUseAPIKeys: the user may reach /user/apikeys (its role).
	MayUseAPIKeys bool
	// Steps are what the account calls for next; nil when all is done.
	Steps      *nextSteps
	MaxAPIKeys int
	// Admin holds the site's counts; nil unless the user is an admin.
	Admin *adminCounts
	// SessionsListed: the security page lists the user's sessions (every
	// session store but the cookie one).
	SessionsListed bool
}

// nextSteps are the steps the home page suggests, as flags the template
// turns into links (text in the template costs nothing per view, a
// printed value several allocations).
type nextSteps struct {
	ConfirmEmail, AddName, CreateAPIKey, FailedJobs bool
}

// newNextSteps says what u has left to do, from the state of the account
// (and, for an admin, of the site); nil when nothing.
func newNextSteps(u *users.User, mayUseAPIKeys bool, admin *adminCounts) *nextSteps {
	s := nextSteps{
		ConfirmEmail: u.EmailConfirmedAt == nil,
		AddName:      u.Name == "",
		CreateAPIKey: mayUseAPIKeys && u.APIKeys == 0,
		FailedJobs:   admin != nil && admin.JobsAvailable && admin.Jobs.Archived > 0,
	}
	if s == (nextSteps{}) {
		return nil
	}
	return &s
}

// adminCounts are the counts the admin pages show: the accounts (cached
// for adminStatsTTL, forgotten when an admin changes one) and the job
// queues (read at most every jobs.StatsTTL; JobsAvailable false when
// Redis did not answer in time, which never fails the page).
type adminCounts struct {
	Users         users.Stats
	Unconfirmed   int64
	Jobs          jobs.JobStats
	JobsAvailable bool
}

// loadAdminCounts gathers the admin pages' counts.
func (s *Server) loadAdminCounts(ctx context.Context) (adminCounts, error) {
	var c adminCounts
	st, err := cache.Fetch(ctx, s.cache, adminStatsKey, adminStatsTTL, s.users.Stats)
	if err != nil {
		return c, err
	}
	c.Users, c.Unconfirmed = st, st.Users-st.Confirmed
	js, err := s.jobs.Stats(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "job queue counts unavailable", "err", err)
	} else {
		c.Jobs, c.JobsAvailable = js, true
	}
	return c, nil
}
