package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynqmon"

	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/users"
)

// usersPerPage is the length of a page of /admin/users.
const usersPerPage = 50

// adminStatsKey is the cache key of the dashboard's counts; a change to
// the accounts made here forgets it, and it expires after adminStatsTTL
// for changes made elsewhere (registrations, manage).
const (
	adminStatsKey = "admin:stats"
	adminStatsTTL = time.Minute
)

// adminHomePage shows the accounts and the job queues in numbers, with
// links to their pages (loadAdminCounts, home.go).
func (s *Server) adminHomePage(w http.ResponseWriter, r *http.Request) error {
	counts, err := s.loadAdminCounts(r.Context())
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/admin-home.html", counts)
}

// adminUsersPage lists the accounts a page at a time, from the query
// parameters q (a search of email and name), sort (email, name or
// created; a leading "-" for descending; newest first when absent or
// unknown) and page (from 1; past the end is the last page).
func (s *Server) adminUsersPage(w http.ResponseWriter, r *http.Request) error {
	params := r.URL.Query()
	q := users.ListQuery{Search: strings.TrimSpace(params.Get("q")), PerPage: usersPerPage}
	sort := params.Get("sort")
	q.Sort, q.Desc = strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
	if q.Sort != users.SortEmail && q.Sort != users.SortName && q.Sort != users.SortCreated {
		sort, q.Sort, q.Desc = "", "", false
	}
	q.Page, _ = strconv.Atoi(params.Get("page"))
	p, err := s.users.List(r.Context(), q)
	if errors.Is(err, users.ErrBadListQuery) {
		return errStatus(http.StatusBadRequest, fmt.Sprintf("Search for at most %d characters of plain text.", users.MaxSearch))
	}
	if err != nil {
		return err
	}
	ids := make([]uint, len(p.Users))
	for i, u := range p.Users {
		ids[i] = u.ID
	}
	secondFactor, err := s.users.WithSecondFactor(r.Context(), ids)
	if err != nil {
		return err
	}
	d := adminUsersData{
		Users: p.Users, SecondFactor: secondFactor, Total: p.Total, Search: q.Search, Sort: sort, Page: p.Page, Pages: p.Pages,
		Columns: map[string]sortLink{
			users.SortEmail:   sortColumn("Email", users.SortEmail, q, sort),
			users.SortName:    sortColumn("Name", users.SortName, q, sort),
			users.SortCreated: sortColumn("Created", users.SortCreated, q, sort),
		},
	}
	if p.Page > 1 {
		d.Prev = usersURL(q.Search, sort, p.Page-1)
	}
	if p.Page < p.Pages {
		d.Next = usersURL(q.Search, sort, p.Page+1)
	}
	return s.render(w, r, http.StatusOK, "pages/admin-users.html", d)
}

// adminUsersData is the data of templates/pages/admin-users.html: one
// page of the accounts matching Search, in the order Sort (the sort
// parameter, "" for newest first); the sortable columns' headers; the
// links to the pages beside it ("": none).
type adminUsersData struct {
	Users []users.User
	// SecondFactor tells which of Users have a second factor.
	SecondFactor map[uint]bool
	Total        int64
	Search       string
	Sort         string
	Page, Pages  int
	Columns      map[string]sortLink // by sort name
	Prev, Next   string
}

// sortLink is the header of a sortable column: its label, the link that
// sorts by it (keeping the search) and, for the column sorted by, its
// aria-sort ("ascending" or "descending").
type sortLink struct {
	Label, Href, AriaSort string
}

// sortColumn is column's header while the page is sorted as q (sort its
// parameter): a link to sort by it ascending, or descending when it is
// already sorted ascending.
func sortColumn(label, column string, q users.ListQuery, sort string) sortLink {
	l := sortLink{Label: label, Href: usersURL(q.Search, column, 1)}
	current := q.Sort
	if sort == "" {
		current = users.SortCreated // newest first
	}
	if current != column {
		return l
	}
	if sort == "" || q.Desc {
		l.AriaSort = "descending"
		return l
	}
	l.AriaSort, l.Href = "ascending", usersURL(q.Search, "-"+column, 1)
	return l
}

// usersURL is the address of page of /admin/users searched for search and
// sorted by sort, leaving out what is the default.
func usersURL(search, sort string, page int) string {
	v := url.Values{}
	if search != "" {
		v.Set("q", search)
	}
	if sort != "" {
		v.Set("sort", sort)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

// userForm is the data of templates/pages/admin-user.html.
type userForm struct {
	*form
	ID        uint // 0 for a new user
	Roles     []users.Role
	Selected  map[string]bool
	Active    bool
	Confirmed bool
	// Directory is the directory username of a directory-managed
	// account, "" for a local one.
	Directory string
	// Events are the account's recent security events (none for a new
	// one).
	Events []eventRow
	// SecondFactors are the account's second factors, which an admin may
	// reset (twofactor_setup.go).
	SecondFactors users.SecondFactors
}

// DirectoryRole reports whether the directory decides role name.
func (*userForm) DirectoryRole(name string) bool { return slices.Contains(users.DirectoryRoles, name) }

// directoryName is u's directory username, "" for a local account.
func directoryName(u *users.User) string {
	if u.Directory() {
		return *u.DirectoryName
	}
	return ""
}

// userForm builds the form's data for account u (nil for a new one).
func (s *Server) userForm(r *http.Request, f *form, u *users.User, selected map[string]bool, active, confirmed bool) (*userForm, error) {
	roles, err := s.users.Roles(r.Context())
	if err != nil {
		return nil, err
	}
	uf := &userForm{form: f, Roles: roles, Selected: selected, Active: active, Confirmed: confirmed}
	if u != nil {
		uf.ID, uf.Directory = u.ID, directoryName(u)
		if uf.Events, err = s.recentActivity(r.Context(), u.ID); err != nil {
			return nil, err
		}
		if uf.SecondFactors, err = s.users.SecondFactors(r.Context(), u.ID); err != nil {
			return nil, err
		}
	}
	return uf, nil
}

// renderUserForm renders the form of account u (nil for a new one).
func (s *Server) renderUserForm(w http.ResponseWriter, r *http.Request, status int, f *form, u *users.User, selected map[string]bool, active, confirmed bool) error {
	uf, err := s.userForm(r, f, u, selected, active, confirmed)
	if err != nil {
		return err
	}
	return s.render(w, r, status, "pages/admin-user.html", uf)
}

func (s *Server) newUserPage(w http.ResponseWriter, r *http.Request) error {
	// An account an admin makes is vouched for: confirmed unless unticked.
	return s.renderUserForm(w, r, http.StatusOK, newForm(), nil, map[string]bool{users.RoleUser: true}, true, true)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "email", "name", "password", "retype_password", "confirmed")
	if err != nil {
		return err
	}
	roles := r.PostForm["roles"]
	confirmed := f.get("confirmed") == "on"
	s.checkNewPassword(f, f.get("email"))
	var u *users.User
	if f.ok() {
		u, err = s.users.CreateBy(r.Context(), currentUser(r).ID, f.get("email"), f.get("password"), confirmed, roles...)
		if err == nil && f.get("name") != "" {
			err = s.users.SetName(r.Context(), u.ID, f.get("name"))
		}
		if err := f.problem(err); err != nil {
			return err
		}
	}
	if !f.ok() {
		f.Values["password"], f.Values["retype_password"] = "", ""
		return s.renderUserForm(w, r, http.StatusUnprocessableEntity, f, nil, selectedSet(roles), true, confirmed)
	}
	s.logger.InfoContext(r.Context(), "admin created user", "admin_id", currentUser(r).ID, "user_id", u.ID)
	_ = s.cache.Forget(r.Context(), adminStatsKey)
	s.flashAndGo(w, r, "Created "+u.Email+".", "/admin/users")
	return nil
}

// targetUser loads the user named by the {id} in the path: errNotFound
// for an id that names nobody.
func (s *Server) targetUser(r *http.Request) (*users.User, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.users.ByID(r.Context(), id) // users.ErrNotFound: a 404
}

func (s *Server) editUserPage(w http.ResponseWriter, r *http.Request) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["email"], f.Values["name"] = u.Email, u.Name
	return s.renderUserForm(w, r, http.StatusOK, f, u, selectedSet(u.RoleNames()), u.Active, u.EmailConfirmedAt != nil)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	f, err := s.parseForm(w, r, "email", "name", "active", "confirmed")
	if err != nil {
		return err
	}
	roles := r.PostForm["roles"]
	if u.Directory() {
		// The form does not offer what the directory decides: those stay
		// as they are (the users service refuses any change to them).
		roles = slices.DeleteFunc(roles, func(name string) bool { return slices.Contains(users.DirectoryRoles, name) })
		for _, name := range u.RoleNames() {
			if slices.Contains(users.DirectoryRoles, name) {
				roles = append(roles, name)
			}
		}
	}
	active, confirmed := f.get("active") == "on", f.get("confirmed") == "on"
	self := u.ID == currentUser(r).ID
	_, err = s.users.Update(r.Context(), u.ID, users.Changes{
		Email: f.get("email"), Name: f.get("name"), Active: active, Confirmed: confirmed, Roles: roles, By: currentUser(r).ID,
	})
	if err := f.problem(err); err != nil {
		return err
	}
	if !f.ok() {
		return s.renderUserForm(w, r, http.StatusUnprocessableEntity, f, u, selectedSet(roles), active, confirmed)
	}
	if self {
		// A change of one's own privileges gets a new session token.
		if err := s.renewToken(r); err != nil {
			return err
		}
	}
	s.logger.InfoContext(r.Context(), "admin updated user", "admin_id", currentUser(r).ID, "user_id", u.ID)
	_ = s.cache.Forget(r.Context(), adminStatsKey)
	s.flashAndGo(w, r, "Saved "+f.get("email")+".", "/admin/users")
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	err = s.users.Delete(r.Context(), currentUser(r).ID, u.ID)
	if errors.Is(err, users.ErrOwnAccount) {
		return errStatus(http.StatusBadRequest, "You cannot delete your own account here.")
	}
	if err != nil {
		return err // users.ErrLastAdmin: a 400 that says why
	}
	// The deletion of the account's files (its picture) goes to the
	// queue now.
	s.outbox.Send(r.Context())
	s.logger.InfoContext(r.Context(), "admin deleted user", "admin_id", currentUser(r).ID, "user_id", u.ID)
	_ = s.cache.Forget(r.Context(), adminStatsKey)
	s.flashAndGo(w, r, "Deleted "+u.Email+".", "/admin/users")
	return nil
}

// signOutUser ends every session of a user, the admin's own other
// sessions included (the admin stays signed in here).
func (s *Server) signOutUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	u, err = s.users.EndSessionsBy(r.Context(), currentUser(r).ID, u.ID)
	if err == nil && u.ID == currentUser(r).ID {
		err = s.keepSession(w, r, u)
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "admin signed user out everywhere", "admin_id", currentUser(r).ID, "user_id", u.ID)
	s.flashAndGo(w, r, "Signed "+u.Email+" out everywhere.", "/admin/users")
	return nil
}

func selectedSet(names []string) map[string]bool {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return set
}

// jobsDashboard is asynqmon at /admin/jobs. Its React UI needs inline
// scripts and styles, so its pages get a looser content security policy
// than the rest of the site.
func (s *Server) jobsDashboard() http.Handler {
	// On the process's Redis pool: the dashboard opens and closes nothing.
	dashboard := asynqmon.New(asynqmon.Options{RootPath: "/admin/jobs", RedisConnOpt: redisconn.Shared(s.redis)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'")
		dashboard.ServeHTTP(w, r)
	})
}
