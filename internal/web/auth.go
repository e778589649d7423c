package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/launchkit/launchkit/internal/users"
)

// The session keys of the signed-in user: their ID, and their session
// version when they signed in (users.User.SessionVersion): once the user's
// version has moved on, the session is over.
const (
	sessionUserID      = "user_id"
	sessionUserVersion = "user_version"
)

type userKey struct{}

// currentUser returns the signed-in user, or nil.
func currentUser(r *http.Request) *users.User {
	u, _ := r.Context().Value(userKey{}).(*users.User)
	return u
}

// loadUser puts the signed-in user, if any, into the request context
// (and so keeps the response out of caches: noStoreWhenSignedIn). A
// session pointing at a deleted or deactivated account, or signed in
// before the user's sessions were ended (a password change, "sign out
// everywhere"), is over: it is destroyed.
func (s *Server) loadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := s.sessions.GetInt64(ctx, sessionUserID)
		if id <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.users.ByID(ctx, uint(id))
		switch {
		case errors.Is(err, users.ErrNotFound) || (err == nil && (!u.Active || u.SessionVersion != s.sessions.GetInt64(ctx, sessionUserVersion))):
			if err := s.sessions.Destroy(ctx); err != nil {
				s.serverError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		case err != nil:
			s.serverError(w, r, err)
		default:
			markSignedIn(r)
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, userKey{}, u)))
		}
	})
}

// requireUser sends signed-out visitors to the sign-in page, remembering
// where they were going.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			target := "/user/sign-in"
			if r.Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireRole sends signed-out visitors to sign in and answers 403 to
// users without role (admins hold every role).
func (s *Server) requireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.requireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !currentUser(r).HasRole(role) {
				s.renderError(w, r, http.StatusForbidden, "")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// localPath returns next when it is a path on this site, else "/": the
// sign-in redirect must not become an open redirect. Browsers read a
// backslash as a slash and drop tabs and newlines, and http.Redirect
// cleans the path (so "/./" then a backslash becomes "/" and a backslash), so any of those, or a path
// starting with two slashes, is refused outright rather than repaired.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c == '\\' || c < ' ' || c == 0x7f {
			return "/"
		}
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" || u.Opaque != "" {
		return "/"
	}
	return next
}
