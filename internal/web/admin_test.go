package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/users"
)

func TestAdminNeedsTheAdminRole(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.visitor().get("/admin").redirectsTo("/user/sign-in?next=%2Fadmin")
	user := s.signedIn("user@example.com")
	for _, path := range []string{"/admin", "/admin/users", "/admin/users/new", "/admin/jobs"} {
		user.get(path).status(403).contains("403", "This page needs the admin role")
	}
	user.post("/admin/users/1/delete").status(403)
	user.get("/").lacks(`href="/admin"`)

	admin := s.signedIn("admin@example.com", "admin")
	admin.get("/").contains(`href="/admin"`)
	admin.get("/admin").status(200).contains(`id="users-total">2<`, `id="role-admin">1<`, `id="role-user">2<`)
}

func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")

	admin.get("/admin/users/new").status(200).contains(`name="email"`, `value="dev"`)
	admin.post("/admin/users/new", "email", "bad", "password", "long enough pw", "retype_password", "long enough pw").status(422).contains("Enter an email address")
	admin.post("/admin/users/new", "email", "dev@example.com", "name", "Dev One", "password", "long enough pw", "retype_password", "long enough pw", "roles", "dev").redirectsTo("/admin/users")
	admin.get("/admin/users").status(200).contains("2 accounts", "dev@example.com", "Dev One", `<span class="badge badge-neutral">dev</span><span class="badge badge-neutral">user</span>`)

	dev, err := s.app.Users.ByEmail(context.Background(), "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	edit := fmt.Sprintf("/admin/users/%d/edit", dev.ID)
	admin.get(edit).status(200).contains(`value="dev@example.com"`, `value="dev" checked`)

	// The dev signs in, then an admin deactivates them: their session ends.
	devBrowser := s.visitor()
	devBrowser.post("/user/sign-in", "email", "dev@example.com", "password", "long enough pw").redirectsTo("/")
	admin.post(edit, "email", "dev@example.com", "name", "Dev Renamed", "roles", "dev").redirectsTo("/admin/users")
	devBrowser.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	s.visitor().post("/user/sign-in", "email", "dev@example.com", "password", "long enough pw").status(422)

	admin.post(edit, "email", "admin@example.com", "active", "on").status(422).contains("already registered")
	admin.post(edit, "email", "dev@example.com", "active", "on", "roles", "nope").status(422).contains("Choose roles from the list")
	admin.post(edit, "email", "dev@example.com", "active", "on", "roles", "admin").redirectsTo("/admin/users")
	updated, _ := s.app.Users.ByID(context.Background(), dev.ID)
	if got := strings.Join(updated.RoleNames(), ","); !updated.Active || got != "admin,user" {
		t.Errorf("after edit: active %v, roles %s; want active, admin,user", updated.Active, got)
	}

	admin.post(fmt.Sprintf("/admin/users/%d/delete", dev.ID)).redirectsTo("/admin/users")
	admin.get("/admin/users").contains("Deleted dev@example.com.").lacks("<span>dev@example.com</span>")
	admin.get(edit).status(404)
	admin.get("/admin/users/abc/edit").status(404)
}

func TestAdminCannotLockThemselvesOut(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	me, _ := s.app.Users.ByEmail(context.Background(), "admin@example.com")
	edit := fmt.Sprintf("/admin/users/%d/edit", me.ID)
	admin.post(edit, "email", "admin@example.com", "active", "on").status(422).contains("cannot take admin away")
	admin.post(edit, "email", "admin@example.com", "roles", "admin").status(422)
	admin.post(fmt.Sprintf("/admin/users/%d/delete", me.ID)).status(400)

	before := admin.cookies["session"].Value
	admin.post(edit, "email", "admin@example.com", "name", "Boss", "active", "on", "roles", "admin", "roles", "dev").redirectsTo("/admin/users")
	if admin.cookies["session"].Value == before {
		t.Error("changing one's own roles must renew the session token")
	}
	admin.get("/admin").status(200)
}

func TestJobsDashboardForAdmins(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	r := admin.get("/admin/jobs").status(200).contains("<!doctype html>")
	if csp := r.rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "'unsafe-inline'") {
		t.Errorf("dashboard CSP = %q", csp)
	}
	admin.get("/admin/jobs/api/queues").status(200).contains(`"queues"`)
	if csp := admin.get("/").rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("the site's own pages must keep the strict CSP, got %q", csp)
	}
}

// TestAdminDashboardCountsAreCached: the dashboard's counts are computed
// once and then served from the cache (the second visit runs fewer SQL
// statements); a change made in the admin panel shows at once, one made
// elsewhere once the cached counts expire.
func TestAdminDashboardCountsAreCached(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("root@example.com", "admin")
	admin.get("/admin").status(200).contains(`id="users-total">1<`)
	first, _ := strconv.Atoi(s.queriesOf("/admin"))
	admin.get("/admin").status(200).contains(`id="users-total">1<`)
	if second, _ := strconv.Atoi(s.queriesOf("/admin")); second >= first {
		t.Errorf("the second visit ran %d statements, the first %d: the counts were not cached", second, first)
	}
	if _, err := s.app.Users.Create(t.Context(), "elsewhere@example.com", "a long new password"); err != nil {
		t.Fatal(err)
	}
	admin.get("/admin").status(200).contains(`id="users-total">1<`) // made elsewhere: cached for a while
	admin.post("/admin/users/new", "email", "new@example.com", "password", "a long new password", "retype_password", "a long new password").redirectsTo("/admin/users")
	admin.get("/admin").status(200).contains(`id="users-total">3<`)
}

// TestAdminUsersSearchSortAndPages reads the users list as a browser
// without JavaScript does: plain GET parameters and links.
func TestAdminUsersSearchSortAndPages(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	admin := s.signedIn("admin@example.com", "admin")
	people := make([]users.User, 60)
	for i := range people {
		people[i] = users.User{Email: fmt.Sprintf("person%02d@example.com", i), Name: fmt.Sprintf("Person %02d", i), PasswordHash: "-", Active: true}
	}
	people[7].Name = "100% sure"
	if err := s.app.DB.Gorm.CreateInBatches(people, 100).Error; err != nil {
		t.Fatal(err)
	}

	// Newest first, one page of 50 of 61, the sort links and the next page.
	admin.get("/admin/users").status(200).contains(
		"61 accounts",
		`<label for="user-search">`, `<input id="user-search" type="search" name="q" value=""`,
		`<th scope="col"><a href="/admin/users?sort=email">Email</a></th>`,
		`<th scope="col" aria-sort="descending"><a href="/admin/users?sort=created">Created</a></th>`,
		`<nav class="pagination" aria-label="Pagination"`, "Page 1 of 2", `<a class="button button-sm" href="/admin/users?page=2" rel="next">`,
	).lacks(`rel="prev"`, "<span>person00@example.com</span>")

	// Past the end is the last page; a page that is not a number, the first.
	admin.get("/admin/users?page=abc").status(200).contains("Page 1 of 2")
	admin.get("/admin/users?page=999999999999999999999").status(200).contains("Page 2 of 2")
	admin.get("/admin/users?page=99").status(200).contains(
		"Page 2 of 2", `<a class="button button-sm" href="/admin/users" rel="prev">`, "<span>person00@example.com</span>",
	).lacks(`rel="next"`)

	// A search keeps its sort, and the headers and pages keep the search
	// (Person 07 is now 100% sure).
	admin.get("/admin/users?q=PERSON+0&sort=-name").status(200).contains(
		"9 accounts match “PERSON 0”", `value="PERSON 0"`, `<input type="hidden" name="sort" value="-name">`,
		`<th scope="col" aria-sort="descending"><a href="/admin/users?q=PERSON&#43;0&amp;sort=name">Name</a></th>`,
		`<a href="/admin/users?q=PERSON&#43;0&amp;sort=email">Email</a>`,
	).lacks(`class="pagination"`)
	admin.get("/admin/users?q=person&sort=email&page=2").status(200).contains(
		`aria-sort="ascending"><a href="/admin/users?q=person&amp;sort=-email">Email</a>`,
		`<a class="button button-sm" href="/admin/users?q=person&amp;sort=email" rel="prev">`, "<span>person59@example.com</span>",
	)

	// % is a plain character; a search nobody matches says so.
	admin.get("/admin/users?q=%25").status(200).contains("1 accounts match “%”", "<td>100% sure</td>")
	admin.get("/admin/users?q=nobody").status(200).contains(`<h2 class="empty-title">No users match “nobody”</h2>`, `href="/admin/users">Show every user</a>`).lacks("<table", `class="pagination"`)

	// An unknown sort is the default; a search too long or not plain text is a 400.
	admin.get("/admin/users?sort=password_hash").status(200).contains(`aria-sort="descending"><a href="/admin/users?sort=created">`)
	admin.get("/admin/users?q=" + strings.Repeat("a", users.MaxSearch+1)).status(400).contains("at most 100 characters")
	admin.get("/admin/users?q=a%00b").status(400)
}
