package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynqmon"

	"github.com/launchkit/launchkit/internal/cache"
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

func (s *Server) adminHomePage(w http.ResponseWriter, r *http.Request) error {
	stats, err := cache.Fetch(r.Context(), s.cache, adminStatsKey, adminStatsTTL, s.users.Stats)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/admin-home.html", stats)
}

func (s *Server) adminUsersPage(w http.ResponseWriter, r *http.Request) error {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	p, err := s.users.List(r.Context(), (page-1)*usersPerPage, usersPerPage)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/admin-users.html", adminUsersData{
		Users: p.Users, Total: p.Total, Page: page, Prev: page - 1, Next: nextPage(page, p.Total),
	})
}

// adminUsersData is the data of templates/pages/admin-users.html: one
// page of the accounts, and the numbers of the pages beside it (0: none).
type adminUsersData struct {
	Users            []users.User
	Total            int64
	Page, Prev, Next int
}

func nextPage(page int, total int64) int {
	if int64(page*usersPerPage) < total {
		return page + 1
	}
	return 0
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
		create := s.users.Create
		if confirmed {
			create = s.users.CreateConfirmed
		}
		u, err = create(r.Context(), f.get("email"), f.get("password"), roles...)
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
		if err := s.sessions.RenewToken(r.Context()); err != nil {
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
	u, err = s.users.EndSessions(r.Context(), u.ID)
	if err == nil && u.ID == currentUser(r).ID {
		err = s.startSession(w, r, u)
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
