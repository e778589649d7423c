// The user's sessions, as the account's security page lists them: which
// browsers are signed in (device, address, last seen), and signing out
// any one of them. The index of sessions by user is session.Registry;
// this file keeps it up to date as sessions start, are used and end.
//
// With SESSION_STORE=cookie there is no list: sessions live only in the
// browsers' cookies, so nothing on the server can name them, nor end one
// alone. The page says so and offers "sign out everywhere else", which
// ends them all by changing the user's session key.

package web

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	useragent "github.com/medama-io/go-useragent"

	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// The session keys of the registry: the session's ID in it (the row's
// sid), and when the row's last-seen time was last brought forward (Unix
// seconds). The second is what spares the database a write per request.
const (
	sessionID   = "session_id"
	sessionSeen = "session_seen"
)

// sessionsListed reports whether the session store can list and end a
// user's sessions (every store but the cookie one).
func (s *Server) sessionsListed() bool { return s.ender != nil && s.registry != nil }

// registerSession records the session that has just started for u in the
// registry (startSession calls it after renewing the token), in place of
// the row of the session it renewed, if any.
func (s *Server) registerSession(ctx context.Context, u *users.User, old string) error {
	if !s.sessionsListed() {
		return nil
	}
	if err := s.registry.Remove(ctx, old); err != nil {
		return err
	}
	return s.addSession(ctx, u)
}

// addSession gives the session in ctx, signed in as u, a row in the
// registry and puts its ID into the session.
func (s *Server) addSession(ctx context.Context, u *users.User) error {
	client := seclog.ClientOf(ctx)
	sid := session.NewSID()
	err := s.registry.Add(ctx, session.SignedIn{
		UserID: u.ID, SessionKey: u.SessionKey, SID: sid,
		UserAgent: client.UserAgent, Address: client.Address,
		ExpiresAt: time.Now().Add(s.cfg.SessionLifetime),
	}, s.ender.Token(ctx))
	if err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionID, sid)
	s.sessions.Put(ctx, sessionSeen, time.Now().Unix())
	return nil
}

// touchSession brings the last-seen time of u's session in the registry
// forward, at most every TouchEvery (five minutes): the update and the
// session write that remembers it cost one statement and one store write
// per interval, not per request (scs saves an active session about every
// minute for its idle timeout anyway). A session with no row (signed in
// before the registry existed, or its row purged) gets one. A failure is
// logged, not shown: the page matters more than the time.
func (s *Server) touchSession(ctx context.Context, u *users.User) {
	if !s.sessionsListed() {
		return
	}
	seen := s.sessions.GetInt64(ctx, sessionSeen)
	if time.Since(time.Unix(seen, 0)) < s.registry.TouchEvery {
		return
	}
	sid := s.sessions.GetString(ctx, sessionID)
	found := false
	var err error
	if sid != "" {
		found, err = s.registry.Touch(ctx, u.ID, sid)
	}
	switch {
	case err != nil:
	case found:
		s.sessions.Put(ctx, sessionSeen, time.Now().Unix())
	case s.ender.Token(ctx) != "":
		err = s.addSession(ctx, u)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "session registry not updated", "err", err)
	}
}

// renewToken gives the signed-in user's session a new token when their
// privileges change, and keeps the registry's copy of it current: with
// the old one, signing the session out from elsewhere would miss it.
// (startSession renews the token of a sign-in itself.)
func (s *Server) renewToken(r *http.Request) error {
	ctx := r.Context()
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	sid := s.sessions.GetString(ctx, sessionID)
	if !s.sessionsListed() || sid == "" {
		return nil
	}
	return s.registry.Retoken(ctx, currentUser(r).ID, sid, s.ender.Token(ctx))
}

// forgetSession deletes the row of the session in ctx (at sign-out, and
// when a session is found to be over).
func (s *Server) forgetSession(ctx context.Context) error {
	if !s.sessionsListed() {
		return nil
	}
	return s.registry.Remove(ctx, s.sessions.GetString(ctx, sessionID))
}

// sessionsCard is the Sessions card of the security page.
type sessionsCard struct {
	// Listed: the store can list and end sessions (not the cookie store).
	Listed   bool
	Sessions []sessionRow
}

// sessionRow is one session of the list.
type sessionRow struct {
	SID      string
	Device   string // "Firefox on Windows"
	Address  string
	Since    time.Time
	LastSeen time.Time
	// Current: the session of this request ("This device").
	Current bool
}

// loadSessions lists the signed-in user's sessions, this one first.
// Rows whose session the store no longer holds (idle too long, or lost
// by a memory store's restart) are left out.
func (s *Server) loadSessions(r *http.Request) (sessionsCard, error) {
	if !s.sessionsListed() {
		return sessionsCard{}, nil
	}
	ctx := r.Context()
	me := currentUser(r)
	rows, err := s.registry.List(ctx, me.ID, s.sessions.GetString(ctx, sessionUserKey))
	if err != nil {
		return sessionsCard{}, err
	}
	current := s.sessions.GetString(ctx, sessionID)
	card := sessionsCard{Listed: true}
	for _, e := range rows {
		row := sessionRow{SID: e.SID, Device: deviceName(e.UserAgent), Address: e.Address, Since: e.CreatedAt, LastSeen: e.LastSeenAt, Current: e.SID == current}
		if row.Current {
			row.LastSeen = time.Now()
			card.Sessions = append([]sessionRow{row}, card.Sessions...)
			continue
		}
		if token, err := s.registry.TokenOf(e); err != nil {
			continue // sealed under a key this deployment no longer has: that session is unreadable too
		} else if held, err := s.ender.Holds(ctx, token); err != nil {
			return sessionsCard{}, err
		} else if held {
			card.Sessions = append(card.Sessions, row)
		}
	}
	return card, nil
}

// signOutSession ends one session of the signed-in user, named by its
// registry ID: the browser holding it is signed out at its next request.
// Another user's session, or one that is over, is a 404; the session of
// this request is an ordinary sign-out. No password is asked: an owner
// who sees a session they do not know ends it at once. (Someone holding
// a stolen session could end the owner's sessions too, one at a time;
// the owner signs in again and ends theirs with "sign out everywhere
// else", which asks for the password.)
func (s *Server) signOutSession(w http.ResponseWriter, r *http.Request) error {
	if !s.sessionsListed() {
		return errNotFound
	}
	ctx := r.Context()
	me := currentUser(r)
	sid := chi.URLParam(r, "id")
	if !session.IsSID(sid) {
		return errNotFound
	}
	if sid == s.sessions.GetString(ctx, sessionID) {
		return s.signOut(w, r)
	}
	e, err := s.registry.Find(ctx, me.ID, s.sessions.GetString(ctx, sessionUserKey), sid)
	if errors.Is(err, session.ErrNoSession) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if token, err := s.registry.TokenOf(e); err == nil {
		if err := s.ender.End(ctx, token); err != nil {
			return err
		}
	}
	if err := s.registry.Remove(ctx, e.SID); err != nil {
		return err
	}
	device := deviceName(e.UserAgent)
	if err := s.events.Record(ctx, nil, seclog.Event{
		UserID: seclog.UserRef(me.ID), Kind: seclog.SessionEnded, Method: "user",
		Detail: "signed out " + device + sinceAddress(e.Address),
	}); err != nil {
		s.logger.WarnContext(ctx, "security event not recorded", "err", err)
	}
	s.logger.InfoContext(ctx, "user signed out one session", "user_id", me.ID)
	s.flashAndGo(w, r, "Signed out of "+device+sinceAddress(e.Address)+".", "/user/security")
	return nil
}

func sinceAddress(addr string) string {
	if addr == "" {
		return ""
	}
	return " at " + addr
}

// userAgents parses user agents; built on first use (it loads a table).
var userAgents = sync.OnceValue(useragent.NewParser)

// deviceName names the browser and system of a user agent for people:
// "Firefox on Windows", "Safari on iOS", or what little is known.
func deviceName(ua string) string {
	if ua == "" {
		return "An unknown browser"
	}
	agent := userAgents().Parse(ua)
	browser, system := string(agent.Browser()), string(agent.OS())
	if system == "MacOS" {
		system = "macOS" // as Apple writes it
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	case agent.IsBot():
		return "A program"
	}
	return "An unknown browser"
}
