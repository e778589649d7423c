package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/web"
)

// The app shell (templates/layouts/base.html, nav.html, partials.html):
// which layout each page gets, its landmarks and navigation, and the
// components' accessibility promises (docs: the UI vocabulary).

// navs are the <nav> start tags of a page.
var navTag = regexp.MustCompile(`<nav [^>]*>`)

// ariaLabel is a tag's aria-label.
var ariaLabel = regexp.MustCompile(`aria-label="([^"]*)"`)

func TestSignedInPagesHaveTheAppShell(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	dev := s.signedIn("dev@example.com", "dev")
	page := dev.get("/user/profile").status(200).contains(
		`<body class="app" hx-boost="true">`,
		`<a class="skip-link" href="#main">Skip to content</a>`,
		`<main id="main" class="content" tabindex="-1">`,
		`<nav class="drawer-panel" aria-label="Main menu">`,
		`<nav class="sidebar" aria-label="Main">`,
		`<details class="menu account-menu">`,
		`<span class="menu-label">dev@example.com</span>`,
	).lacks("data-nav-current")
	// Every navigation landmark has its own name.
	seen := map[string]bool{}
	for _, tag := range navTag.FindAllString(page.body, -1) {
		m := ariaLabel.FindStringSubmatch(tag)
		if m == nil || seen[m[1]] {
			t.Errorf("nav %s has no aria-label, or one another nav has", tag)
			continue
		}
		seen[m[1]] = true
	}
	if !seen["Main"] || !seen["Main menu"] {
		t.Errorf("navs %v: want the sidebar (Main) and the drawer (Main menu)", seen)
	}
	// The account menu holds the four items.
	menu := between(t, page.body, `<details class="menu account-menu">`, `</details>`)
	for _, item := range []string{`href="/user/profile"`, `href="/user/security"`, `href="/user/apikeys"`, `action="/user/sign-out"`} {
		if !strings.Contains(menu, item) {
			t.Errorf("account menu lacks %s:\n%s", item, menu)
		}
	}
	for _, item := range []string{">Profile<", ">Security<", ">API keys<", ">Sign out<"} {
		if !strings.Contains(menu, item) {
			t.Errorf("account menu lacks the item %s:\n%s", item, menu)
		}
	}
	// A user without the dev role is not offered API keys (a 403).
	s.signedIn("user@example.com").get("/user/profile").status(200).contains(`<details class="menu account-menu">`).lacks(`href="/user/apikeys"`)
}

func TestNavigationMarksTheCurrentPage(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	// Each link is in both navs (sidebar and drawer).
	home := admin.get("/").status(200)
	if n := strings.Count(home.body, `href="/" aria-current="page"`); n != 2 {
		t.Errorf("home link current %d times on /, want 2:\n%s", n, home.body)
	}
	home.lacks(`href="/admin" aria-current`, `href="/admin/users" aria-current`)
	users := admin.get("/admin/users").status(200)
	for _, want := range []string{`href="/admin/users" aria-current="page"`, `href="/admin" aria-current="true"`} {
		if n := strings.Count(users.body, want); n != 2 {
			t.Errorf("%s %d times on /admin/users, want 2", want, n)
		}
	}
	users.contains(`href="/admin/jobs">Jobs</a>`).lacks(`href="/" aria-current`)
	// Pages outside the navigation mark none; a user without admin has no Admin section.
	user := s.signedIn("user@example.com")
	user.get("/user/profile").status(200).lacks("aria-current", `href="/admin"`)
}

func TestVisitorAndAuthLayouts(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	v.get("/").status(200).contains(`<body class="public" hx-boost="true">`, `<a class="skip-link" href="#main">`, `class="button button-ghost" href="/user/sign-in"`, `href="/user/register"`).
		lacks("account-menu", `class="sidebar"`)
	for _, path := range []string{"/user/sign-in", "/user/register", "/user/forgot-password", "/user/resend-confirmation", "/user/forgot-password?sent=1"} {
		v.get(path).status(200).contains(`<body class="auth" hx-boost="true">`, `<main id="main" class="auth-main"`, `<div class="auth-card card">`, `<p class="auth-links">`).
			lacks("account-menu", `class="sidebar"`)
	}
	v.get("/nowhere").status(404).contains(`<body class="public" hx-boost="true">`, `class="error-code">404<`).lacks("account-menu")
}

// A signed-in visitor's error pages keep the shell, even those of
// addresses no route takes; a visitor's get no session for them.
func TestErrorPagesKeepTheShell(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	user := s.signedIn("user@example.com")
	user.get("/nowhere").status(404).header("Cache-Control", "private, no-store").
		contains(`<body class="app" hx-boost="true">`, `<details class="menu account-menu">`, `<nav class="sidebar" aria-label="Main">`, "There is no page at this address.")
	user.send(httptest.NewRequest(http.MethodPut, "/user/profile", nil)).status(405).contains(`<body class="app" hx-boost="true">`, `<details class="menu account-menu">`)
	user.get("/admin").status(403).contains(`<body class="app" hx-boost="true">`, "This page needs the admin role")

	for _, r := range []*http.Request{httptest.NewRequest(http.MethodGet, "/nowhere", nil), httptest.NewRequest(http.MethodPut, "/user/profile", nil)} {
		got := s.do(r)
		if got.rec.Code != 404 && got.rec.Code != 405 {
			t.Errorf("%s %s = %d", r.Method, r.URL, got.rec.Code)
		}
		if c := got.rec.Header().Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("%s %s set cookies %q for a visitor", r.Method, r.URL, c)
		}
		got.contains(`<body class="public" hx-boost="true">`).lacks("account-menu")
	}
	// The API's answers stay JSON.
	if status, _ := s.get("/api/v1/nowhere").status(404).jsonError(); status != 404 {
		t.Errorf("API 404 status %d", status)
	}
}

// formTag is a form's start tag and its action.
var formTag = regexp.MustCompile(`<form [^>]*action="([^"]*)"[^>]*>`)

// destructive reports whether a form's action ends something for good
// or signs someone else out.
func destructive(action string) bool {
	return strings.HasSuffix(action, "/delete") || strings.HasSuffix(action, "/sign-out-others") ||
		((strings.HasPrefix(action, "/admin/users/") || strings.HasPrefix(action, "/user/sessions/")) && strings.HasSuffix(action, "/sign-out"))
}

func TestDestructiveActionsAreConfirmed(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	admin.newKey("deploy")
	dev := s.signedIn("dev@example.com", "dev")
	u, err := s.app.Users.ByEmail(context.Background(), "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.signIn("admin@example.com") // a second session, which the security page offers to sign out
	pages := []string{"/user/apikeys", "/user/profile", "/user/security", fmt.Sprintf("/admin/users/%d/edit", u.ID)}
	found := 0
	for _, path := range pages {
		body := admin.get(path).status(200).body
		for _, m := range formTag.FindAllStringSubmatchIndex(body, -1) {
			action := body[m[2]:m[3]]
			if !destructive(action) {
				continue
			}
			found++
			before := body[:m[0]]
			open := strings.LastIndex(before, `<details class="confirm"`)
			if open < 0 || strings.Contains(before[open:], "</details>") {
				t.Errorf("%s: the form to %s is not inside a details.confirm", path, action)
				continue
			}
			if !strings.Contains(before[open:], `<div class="confirm-panel" role="group" aria-label="Confirm">`) {
				t.Errorf("%s: the confirm step of %s has no panel", path, action)
			}
		}
	}
	if found < 5 { // a key, sign out others, sign out one session, sign a user out, delete a user
		t.Errorf("found %d destructive forms, want at least 5", found)
	}
	// The security page's confirm step opens by itself when its password was wrong.
	dev.post("/user/sign-out-others", "password", "not it").status(422).contains(`<details class="confirm" open>`, `aria-describedby="sign-out-password-error" aria-invalid="true"`, `id="sign-out-password-error"`)
}

// describedBy is an input's aria-describedby.
var describedBy = regexp.MustCompile(`<input id="([^"]+)"[^>]*aria-describedby="([^"]+)"[^>]*>`)

func TestFormErrorsAreTiedToTheirFields(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	page := s.visitor().register("not-an-address", "long enough pw").status(422).
		contains(`value="not-an-address"`, `aria-invalid="true"`)
	inputs := map[string]string{}
	for _, m := range describedBy.FindAllStringSubmatch(page.body, -1) {
		inputs[m[1]] = m[0]
		for _, id := range strings.Fields(m[2]) {
			if !strings.Contains(page.body, `id="`+id+`"`) {
				t.Errorf("input %s is described by %s, which the page lacks", m[1], id)
			}
		}
	}
	if in := inputs["email"]; !strings.Contains(in, `aria-describedby="email-error"`) || !strings.Contains(in, `aria-invalid="true"`) {
		t.Errorf("email input %q: want it described by its error and invalid", in)
	}
	if n := strings.Count(page.body, `aria-invalid="true"`); n != 1 {
		t.Errorf("%d fields marked invalid, want only the email", n)
	}
	if !regexp.MustCompile(`<p class="field-error" id="email-error"><svg [^>]*>.*</svg>Enter an email address`).MatchString(page.body) {
		t.Errorf("no email-error paragraph with its icon:\n%s", page.body)
	}

	// A password's problem joins its hint.
	page = s.visitor().post("/user/register", "email", "ada@example.com", "password", "short", "retype_password", "other").status(422).
		contains(`value="ada@example.com"`,
			`aria-describedby="password-hint password-error" aria-invalid="true"`,
			`aria-describedby="retype_password-error" aria-invalid="true"`, `id="password-error"`, `id="retype_password-error"`).
		lacks(`value="short"`, `value="other"`)
	if n := strings.Count(page.body, `aria-invalid="true"`); n != 2 {
		t.Errorf("%d fields marked invalid, want the two passwords", n)
	}
}

func TestPager(t *testing.T) {
	t.Parallel()
	url := func(p int) string { return fmt.Sprintf("/widgets?page=%d", p) }
	for _, tc := range []struct {
		page, pages int
		want        web.Pager
	}{
		{1, 3, web.Pager{Page: 1, Pages: 3, Next: "/widgets?page=2"}},
		{2, 3, web.Pager{Page: 2, Pages: 3, Prev: "/widgets?page=1", Next: "/widgets?page=3"}},
		{3, 3, web.Pager{Page: 3, Pages: 3, Prev: "/widgets?page=2"}},
		{9, 3, web.Pager{Page: 3, Pages: 3, Prev: "/widgets?page=2"}},
		{0, 3, web.Pager{Page: 1, Pages: 3, Next: "/widgets?page=2"}},
		{-5, 3, web.Pager{Page: 1, Pages: 3, Next: "/widgets?page=2"}},
		{1, 0, web.Pager{Page: 1, Pages: 1}},
		{4, 1, web.Pager{Page: 1, Pages: 1}},
	} {
		if got := web.NewPager(tc.page, tc.pages, url); got != tc.want {
			t.Errorf("NewPager(%d, %d) = %+v, want %+v", tc.page, tc.pages, got, tc.want)
		}
	}
}

// between is the part of s from the first start to the end that follows.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("no %s in:\n%s", start, s)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("no %s after %s", end, start)
	}
	return s[i : i+j+len(end)]
}

// An error page links back to the page of this site the visitor came
// from, never to another site.
func TestErrorPageLinksBack(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for _, tc := range []struct{ referer, want string }{
		{"http://example.com/user/sign-in?next=%2F", `href="/user/sign-in?next=%2F"`},
		{"http://example.com/", ""}, // the home page has its own link
		{"https://evil.example/user/sign-in", ""},
		{"http://example.com/nowhere", ""}, // this page itself
		{"javascript:alert(1)", ""},
		{"", ""},
	} {
		page := s.get("/nowhere", "Referer", tc.referer).status(404)
		hasBack := strings.Contains(page.body, "</svg>Back</a>")
		if (tc.want != "") != hasBack || (tc.want != "" && !strings.Contains(page.body, `<a class="button" `+tc.want)) {
			t.Errorf("Referer %q: back link %v, want %q", tc.referer, hasBack, tc.want)
		}
	}
}

// TestSignedInErrorPageSavesTheSessionOnce: an address no route takes
// under /user or /admin is answered inside the routes that already load
// the session; it is not loaded (and saved) a second time, which wrote
// two cookies, the second from a stale copy.
func TestSignedInErrorPageSavesTheSessionOnce(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	ada := s.signedIn("ada@example.com")
	for _, r := range []*http.Request{httptest.NewRequest(http.MethodGet, "/user/nowhere", nil), httptest.NewRequest(http.MethodPut, "/user/profile", nil), httptest.NewRequest(http.MethodGet, "/nowhere", nil)} {
		ada.post("/user/profile", "name", "Ada").redirectsTo("/user/profile") // a flash waits in the session
		got := ada.send(r)
		if got.rec.Code != 404 && got.rec.Code != 405 {
			t.Errorf("%s %s = %d", r.Method, r.URL, got.rec.Code)
		}
		if c := got.rec.Header().Values("Set-Cookie"); len(c) > 1 {
			t.Errorf("%s %s set %d cookies: %q", r.Method, r.URL, len(c), c)
		}
		if n := strings.Count(strings.Join(got.rec.Header().Values("Vary"), ","), "Cookie"); n > 1 {
			t.Errorf("%s %s: Vary %q names Cookie %d times", r.Method, r.URL, got.rec.Header().Values("Vary"), n)
		}
		got.contains("account-menu")
	}
}

// TestErrorPagesAreNotCachedWithSomeoneElsesBackLink: an error page's
// Back link comes from the visitor's Referer, so it is never stored by a
// shared cache; it never links back to an address holding a token, and a
// missing static file has none. The page's format follows Accept, and
// says so (Vary).
func TestErrorPagesAreNotCachedWithSomeoneElsesBackLink(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	v.header = http.Header{"Referer": {"http://example.com/user/profile?tab=keys"}}
	got := v.get("/nowhere").status(404).contains(`href="/user/profile?tab=keys"`)
	if cc := got.rec.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("a 404 with a Back link has Cache-Control %q, want no-store", cc)
	}
	if !got.varies("Accept") {
		t.Errorf("the error page's Vary %q lacks Accept", got.rec.Header().Values("Vary"))
	}
	for _, ref := range []string{"http://example.com/user/reset-password/SECRET-TOKEN", "http://example.com/user/confirm-email/SECRET-TOKEN"} {
		v.header = http.Header{"Referer": {ref}}
		v.get("/nowhere").status(404).lacks("SECRET-TOKEN")
	}
	v.header = http.Header{"Referer": {"http://example.com/user/profile"}}
	v.get("/static/css/gone.css?v=abc").status(404).lacks(`href="/user/profile"`)
}

// TestPagesSayTheirLength: a rendered page carries its Content-Length
// (without it, net/http sends a page over 2 KB in chunks, which costs
// the fast path), and the length is the body's.
func TestPagesSayTheirLength(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for _, got := range []*response{s.get("/"), s.signedIn("ada@example.com").get("/"), s.get("/nowhere")} {
		if cl := got.rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(got.body)) {
			t.Errorf("Content-Length %q for a body of %d bytes", cl, len(got.body))
		}
	}
}
