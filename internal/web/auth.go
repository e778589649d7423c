package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/launchkit/launchkit/internal/users"
)

// The session keys of the signed-in user: their ID, and their session key
// when they signed in (users.User.SessionKey). Once the user's key has
// changed, the session is over. A session made anywhere else, even with
// this SECRET_KEY, cannot know the key.
const (
	sessionUserID  = "user_id"
	sessionUserKey = "user_key"
	// sessionSignedInAt is when the session's user proved who they are
	// (Unix seconds): a change that would outlast a stolen session, such
	// as linking an identity to a password-less account, needs it recent.
	sessionSignedInAt = "signed_in_at"
)

// recentWindow is how recently a session's user must have signed in
// (sessionSignedInAt) for a change a stolen session must not make, when
// no password can be asked instead: linking an identity to or turning
// the app off for an account without a password, adding a passkey,
// turning the app on from an older sign-in without its password.
const recentWindow = 10 * time.Minute

// recentSignIn reports whether the session's user signed in within
// recentWindow.
func (s *Server) recentSignIn(r *http.Request) bool {
	at := s.sessions.GetInt64(r.Context(), sessionSignedInAt)
	return at != 0 && s.now().Sub(time.Unix(at, 0)) <= recentWindow
}

type userKey struct{}

// currentUser returns the signed-in user, or nil.
func currentUser(r *http.Request) *users.User {
	u, _ := r.Context().Value(userKey{}).(*users.User)
	return u
}

// loadUser puts the signed-in user, if any, into the request context
// (and so keeps the response out of caches: noStoreWhenSignedIn). A
// session pointing at a deleted or deactivated account, or one that does
// not carry the user's session key (signed in before the user's sessions
// were ended by a password change or "sign out everywhere", or made by
// another deployment), is over: it is destroyed.
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
		case errors.Is(err, users.ErrNotFound) || (err == nil && (!u.Active || !sameSessionKey(u, s.sessions.GetString(ctx, sessionUserKey)))):
			if err := s.forgetSession(ctx); err != nil {
				s.respond(w, r, err)
				return
			}
			if err := s.sessions.Destroy(ctx); err != nil {
				s.respond(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		case err != nil:
			s.respond(w, r, err)
		default:
			markSignedIn(r)
			s.noteReportedUser(ctx, u)
			s.touchSession(ctx, u)
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, userKey{}, u)))
		}
	})
}

// sameSessionKey reports whether a session's key is u's (an empty key is
// nobody's), in constant time.
func sameSessionKey(u *users.User, key string) bool {
	return u.SessionKey != "" && subtle.ConstantTimeCompare([]byte(u.SessionKey), []byte(key)) == 1
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
// users without role (admins hold every role), saying which role it is.
func (s *Server) requireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.requireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := currentUser(r); !u.HasRole(role) {
				s.respond(w, r, errStatus(http.StatusForbidden, missingRole(u, role)))
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// missingRole tells signed-in u which role a page needs and who can
// grant it: without that, a new account meets a bare 403 and cannot tell
// what to ask for. It names only the role (the SPEC lists which pages
// need which), nothing of who holds it.
func missingRole(u *users.User, role string) string {
	what := "This page needs"
	if role == users.APIKeyRole {
		what = "API keys need"
	}
	who := "ask an admin to grant it"
	if u.Directory() && slices.Contains(users.DirectoryRoles, role) {
		who = "it comes from your groups in the company directory, so ask whoever manages them"
	}
	return fmt.Sprintf("%s the %s role, which your account does not have: %s.", what, role, who)
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
