package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// htmxHeaders are the request headers of a boosted link or form.
func htmxHeaders() http.Header {
	return http.Header{"Hx-Request": {"true"}, "Hx-Boosted": {"true"}, "Hx-Current-Url": {"http://example.com/"}}
}

// varies reports whether r's Vary names name.
func (r *response) varies(name string) bool {
	for _, v := range r.rec.Header().Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), name) {
				return true
			}
		}
	}
	return false
}

// swapsOnly checks that r tells htmx to swap only the form id, or, with
// id "", nothing of the kind.
func (r *response) swapsOnly(id string) *response {
	r.t.Helper()
	want := map[string]string{"HX-Retarget": "", "HX-Reswap": "", "HX-Reselect": "", "HX-Push-Url": ""}
	if id != "" {
		want = map[string]string{"HX-Retarget": "#" + id, "HX-Reswap": "outerHTML", "HX-Reselect": "#" + id, "HX-Push-Url": "false"}
	}
	for name, v := range want {
		r.header(name, v)
	}
	return r
}

// TestHtmxRefusedFormSwapsOnlyTheForm: a form post refused with the form
// again (422) answers a boosted request with the headers that swap only
// the form (the page around it stays, no history entry), and every other
// request as before: the same whole page, with Vary: HX-Request.
func TestHtmxRefusedFormSwapsOnlyTheForm(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)

	plain := s.visitor()
	r := plain.register("not an address", "long enough pw").status(422).swapsOnly("")
	r.contains(`<html lang="en">`, `id="register-form"`, "Enter an email address")
	if !r.varies("HX-Request") {
		t.Errorf("a refused form's answer lacks Vary: HX-Request: %q", r.rec.Header().Values("Vary"))
	}

	boosted := s.visitor()
	boosted.header = htmxHeaders()
	hx := boosted.register("not an address", "long enough pw").status(422).swapsOnly("register-form")
	// The body is the same whole page: htmx takes the form out of it.
	hx.contains(`<html lang="en">`, `id="register-form"`, "Enter an email address", `value="not an address"`)
	if !hx.varies("HX-Request") {
		t.Errorf("lacks Vary: HX-Request: %q", hx.rec.Header().Values("Vary"))
	}

	// An htmx request that is not boosted (an element of its own with
	// hx-post and its own target) is left to the element's choice.
	own := s.visitor()
	own.header = http.Header{"Hx-Request": {"true"}}
	own.register("not an address", "long enough pw").status(422).swapsOnly("")

	// The page itself and an accepted form are not touched.
	boosted.get("/user/register").status(200).swapsOnly("")
	boosted.register("ada@example.com", "long enough pw").redirectsTo("/").swapsOnly("")

	// Signed in: a wrong current password on the change-password form.
	ada := s.visitorAs("ada@example.com", "long enough pw")
	ada.header = htmxHeaders()
	ada.post("/user/change-password", "old_password", "wrong", "password", "a new long password", "retype_password", "a new long password").
		status(422).swapsOnly("change-password-form").contains(`id="change-password-form"`)
	ada.header = nil
	ada.post("/user/change-password", "old_password", "wrong", "password", "a new long password", "retype_password", "a new long password").
		status(422).swapsOnly("")
}

// TestHtmxErrorPagesSwapWhole: an error page (here a 404 and a 403) is
// not a form's answer: a boosted request gets the page to swap whole.
func TestHtmxErrorPagesSwapWhole(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.signedIn("user@example.com")
	v.header = htmxHeaders()
	v.get("/no-such-page").status(404).swapsOnly("").contains(`<html lang="en">`, "404")
	v.get("/admin/users").status(403).swapsOnly("").contains(`<html lang="en">`, "403")
	v.post("/admin/users/new", "email", "x").status(403).swapsOnly("")
}

// TestHtmxJobsDashboardLoadsAsAPage: asynqmon's app at /admin/jobs is no
// page of this layout, so a boosted link to it is told to load it whole
// (HX-Redirect); a browser's own request gets the dashboard.
func TestHtmxJobsDashboardLoadsAsAPage(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	admin.header = htmxHeaders()
	r := admin.get("/admin/jobs").status(200).header("HX-Redirect", "/admin/jobs")
	if r.body != "" || !r.varies("HX-Request") {
		t.Errorf("htmx answer: body %q, Vary %q", r.body, r.rec.Header().Values("Vary"))
	}
	admin.get("/admin/jobs/queues?x=1").status(200).header("HX-Redirect", "/admin/jobs/queues?x=1")
	admin.header = nil
	page := admin.get("/admin/jobs").status(200).header("HX-Redirect", "")
	if !page.varies("HX-Request") || !strings.Contains(page.body, "<html") {
		t.Errorf("dashboard: Vary %q, body %.200q", page.rec.Header().Values("Vary"), page.body)
	}
	// A visitor is still sent to sign in, htmx or not.
	v := s.visitor()
	v.header = htmxHeaders()
	v.get("/admin/jobs").redirectsTo("/user/sign-in?next=%2Fadmin%2Fjobs")
}

var (
	metaConfigRE = regexp.MustCompile(`<meta name="htmx-config" content='([^']*)'>`)
	scriptRE     = regexp.MustCompile(`<script\b[^>]*>`)
)

// TestHtmxConfigKeepsTheStrictCSP: every page loads htmx and enhance.js
// from /static/ (no inline script, no other host) under a policy without
// 'unsafe-eval' or 'unsafe-inline', and configures htmx not to need them:
// no eval, no injected indicator styles, requests to this site only, no
// copies of pages kept in the browser's storage, and error answers
// swapped (the form's 422, an error page) without console errors.
func TestHtmxConfigKeepsTheStrictCSP(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	for _, page := range []*response{s.get("/"), s.get("/user/sign-in"), s.get("/nope"), admin.get("/admin/users"), admin.get("/user/profile")} {
		csp := page.rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-") || strings.Contains(csp, "http") {
			t.Errorf("CSP %q", csp)
		}
		page.contains(` hx-boost="true">`).lacks(" style=", "<style", " hx-on")
		var srcs []string
		for _, tag := range scriptRE.FindAllString(page.body, -1) {
			m := regexp.MustCompile(`src="(/static/js/[a-z.]+\.js)\?v=[0-9a-f]+"`).FindStringSubmatch(tag)
			// theme.js alone runs before the first paint, so that a
			// chosen theme shows at once; every other script is deferred.
			if m == nil || (!strings.Contains(tag, " defer") && m[1] != "/static/js/theme.js") {
				t.Errorf("script tag %s: want a deferred same-origin file", tag)
				continue
			}
			srcs = append(srcs, m[1])
		}
		if !slices.Contains(srcs, "/static/js/htmx.min.js") || !slices.Contains(srcs, "/static/js/enhance.js") {
			t.Errorf("scripts %q", srcs)
		}
		if n := strings.Count(page.body, "<script"); n != len(scriptRE.FindAllString(page.body, -1)) {
			t.Errorf("odd script tags in %s", page.body)
		}

		m := metaConfigRE.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no htmx-config meta tag in %s", page.body)
		}
		var cfg struct {
			AllowEval, AllowScriptTags, IncludeIndicatorStyles, SelfRequestsOnly *bool
			HistoryCacheSize                                                     *int
			ResponseHandling                                                     []struct {
				Code  string
				Swap  bool
				Error *bool
			}
		}
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &cfg); err != nil {
			t.Fatalf("htmx-config %s: %v", m[1], err)
		}
		for name, got := range map[string]*bool{"allowEval": cfg.AllowEval, "allowScriptTags": cfg.AllowScriptTags, "includeIndicatorStyles": cfg.IncludeIndicatorStyles} {
			if got == nil || *got {
				t.Errorf("htmx-config %s must be false", name)
			}
		}
		if cfg.SelfRequestsOnly == nil || !*cfg.SelfRequestsOnly || cfg.HistoryCacheSize == nil || *cfg.HistoryCacheSize != 0 {
			t.Errorf("htmx-config: selfRequestsOnly must be true and historyCacheSize 0: %s", m[1])
		}
		// The first rule whose code matches decides, as in htmx.
		swaps := func(status int) (swap, isError bool) {
			for _, h := range cfg.ResponseHandling {
				if regexp.MustCompile("^(?:" + h.Code + ")$").MatchString(fmt.Sprint(status)) {
					return h.Swap, h.Error != nil && *h.Error
				}
			}
			return false, false
		}
		for _, status := range []int{200, 400, 403, 404, 422, 429, 500, 503} {
			if swap, isError := swaps(status); !swap || isError {
				t.Errorf("htmx-config: status %d: swap %v, error %v; want swapped, no error", status, swap, isError)
			}
		}
		if swap, _ := swaps(204); swap {
			t.Error("htmx-config: a 204 must not swap the page away")
		}
	}

	// The files are served as JavaScript, and htmx.min.js is htmx.
	js := s.get("/static/js/htmx.min.js").status(200).headerPrefix("Content-Type", "text/javascript")
	js.contains(`version:"2.0.`)
	s.get("/static/js/enhance.js").status(200).headerPrefix("Content-Type", "text/javascript").lacks("eval(", "new Function", ".innerHTML")
}

// TestHtmxAdminUsersSearchInPlace: the users list is one page for htmx
// and for a browser without JavaScript (htmx selects #users-results out
// of it); its search, sort links and pages carry the attributes that
// swap only that part and push the address.
func TestHtmxAdminUsersSearchInPlace(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	for i := range 55 {
		if _, err := s.app.Users.Create(t.Context(), fmt.Sprintf("member%02d@example.com", i), "long enough pw"); err != nil {
			t.Fatal(err)
		}
	}
	page := admin.get("/admin/users?sort=email").status(200)
	admin.header = htmxHeaders()
	hx := admin.get("/admin/users?sort=email").status(200).swapsOnly("")
	if hx.body != page.body {
		t.Error("the htmx answer differs from the page")
	}
	hx.contains(
		`<form class="form" id="user-search-form" method="get" action="/admin/users" role="search"`,
		`hx-target="#users-results" hx-select="#users-results" hx-swap="outerHTML" hx-push-url="true" hx-select-oob="#users-count:innerHTML">`,
		`<p class="muted" id="users-count" aria-live="polite">56 accounts</p>`,
		`hx-get="/admin/users" hx-trigger="input changed delay:300ms, search" hx-include="closest form"`,
		`<span id="users-sort"><input type="hidden" name="sort" value="email"></span>`,
		`<div id="users-results" class="stack">`,
		`<thead hx-target="#users-results" hx-select="#users-results" hx-swap="outerHTML" hx-push-url="true" hx-select-oob="#users-sort">`,
		`<nav class="pagination" aria-label="Pagination" hx-target="#users-results"`,
		`<a class="button button-sm" href="/admin/users?page=2&amp;sort=email" rel="next">`,
		`<div class="table-scroll" tabindex="0" role="region" aria-label="Users">`, `<table class="table`,
		`<a class="button button-primary" href="/admin/users/new">`, `<span class="badge badge-accent">admin</span>`,
		`<span class="badge badge-success">Active</span>`,
	)
	// The edit links sit outside the parts that swap in place: they load
	// the whole edit page.
	editLink := regexp.MustCompile(`(?s)<tbody>.*</tbody>`).FindString(hx.body)
	if strings.Contains(editLink, "hx-") {
		t.Errorf("rows carry htmx attributes: %s", editLink)
	}
	admin.get("/admin/users?q=member5").status(200).contains("5 accounts match “member5”").swapsOnly("")
	admin.get("/admin/users?q=zzz").status(200).contains(`<div class="empty">`, "No users match").lacks("<table")
}

// TestAdminUsersManyUsersOnEveryDatabase: with 10,000 accounts on SQLite,
// PostgreSQL and MySQL/MariaDB, a page of /admin/users, sorted, searched
// or far down, answers from a page's rows, not from every account.
func TestAdminUsersManyUsersOnEveryDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 10,000 users on every database")
	}
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			s := newSite(t, map[string]string{"DATABASE_URL": dialect.URL(t)})
			admin := s.signedIn("admin@example.com", "admin")
			const many = 10_000
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			rows := make([]users.User, many)
			for i := range rows {
				rows[i] = users.User{Email: fmt.Sprintf("user%05d@example.com", i), Name: fmt.Sprintf("Person %05d", i),
					PasswordHash: "-", Active: true, CreatedAt: base.Add(time.Duration(i) * time.Second)}
			}
			if err := s.app.DB.Gorm.CreateInBatches(rows, 1000).Error; err != nil {
				t.Fatal(err)
			}
			var scanned atomic.Int64
			if err := s.app.DB.Gorm.Callback().Query().After("gorm:query").Register("test:scanned", func(tx *gorm.DB) { scanned.Add(tx.RowsAffected) }); err != nil {
				t.Fatal(err)
			}
			pages := []struct {
				path string
				want []string
			}{
				{"/admin/users", []string{"10001 accounts", "Page 1 of 201", ">user09999@example.com<"}},
				{"/admin/users?sort=email&page=150", []string{"Page 150 of 201", ">user07460@example.com<"}},
				{"/admin/users?sort=-name&page=201", []string{"Page 201 of 201", ">admin@example.com<"}},
				{"/admin/users?q=user0999&sort=created", []string{"10 accounts match “user0999”", ">user09990@example.com<"}},
			}
			for _, p := range pages {
				for _, hx := range []bool{false, true} {
					admin.header = nil
					if hx {
						admin.header = htmxHeaders()
					}
					scanned.Store(0)
					start := time.Now()
					admin.get(p.path).status(200).contains(p.want...)
					took := time.Since(start)
					// A page of 50, its roles, the count, the session and
					// the admin: a few hundred rows at most, never 10,000.
					if n := scanned.Load(); n > 300 {
						t.Errorf("%s read %d rows", p.path, n)
					}
					if took > 5*time.Second {
						t.Errorf("%s took %s", p.path, took)
					}
				}
			}
		})
	}
}

// TestHtmxRefusedFormOfAPageWithTwoForms: the security page has several
// forms; a refused sign-out of the other sessions (a wrong password)
// swaps its own form, not the page around it, which would leave its
// error unseen. The name form of the profile page swaps itself.
func TestHtmxRefusedFormOfAPageWithTwoForms(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	ada := s.signedIn("ada@example.com")
	ada.header = htmxHeaders()
	ada.post("/user/sign-out-others", "password", "not it").status(422).
		swapsOnly("sign-out-others-form").contains(`id="sign-out-others-form"`, `id="sign-out-password-error"`)
	ada.post("/user/profile", "name", strings.Repeat("x", 500)).status(422).swapsOnly("profile-form")
}
