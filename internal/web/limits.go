package web

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
)

// The budgets that stop password guessing and form flooding (kept by
// app.Limits: in Redis when there is one, so shared by every process).
var (
	// guessesPerAddress: password checks from one client address, all
	// routes that check a password together (sign-in, the API, change
	// and reset password).
	guessesPerAddress = ratelimit.Limit{Burst: 10, Period: time.Minute}
	// guessesPerAccount: password checks for one account through any of
	// those routes, from the browsers and clients new to it (the shared
	// budget), and, separately, from each browser where it has signed in
	// before (that device's own: browserBudget, devices.go); the right
	// password gives the budget back, so in effect it counts wrong ones.
	// Mailing a reset link is never held back by it, and a completed reset
	// gives the shared budget back too.
	guessesPerAccount = ratelimit.Limit{Burst: 10, Period: 15 * time.Minute}
	// postsPerAddress: forms that send mail or create accounts
	// (register, forgot-password) from one client address.
	postsPerAddress = ratelimit.Limit{Burst: 10, Period: time.Minute}
	// passkeyBeginsPerAddress: passkey ceremonies started from one client
	// address (each stores a challenge until it is used or expires); the
	// sign-in page starts one as it loads, for the browser's autofill.
	passkeyBeginsPerAddress = ratelimit.Limit{Burst: 30, Period: time.Minute}
)

// limitAddress spends one attempt of the client address's budget named
// kind, and answers 429 (with Retry-After) when it is spent.
func (s *Server) limitAddress(kind string, limit ratelimit.Limit) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := kind + ":addr:" + limitKey(s.clientAddress(r))
			if d := s.limits.Take(r.Context(), key, limit); !d.Allowed {
				s.recordLimitHit(r.Context(), key, 0, kind)
				s.respond(w, r, errTooMany(d.RetryAfter, ""))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// accountKey is the budget key of the account with that name (an email
// address, or a directory username): hashed, so the names are not kept
// in Redis.
func accountKey(name string) string { return ratelimit.EmailKey("guess:account:", name) }

// guessBudget is the budget a password check from a browser for the
// account named name spends: the account's shared one (accountKey), or,
// from a browser where that account has signed in before, that browser's
// own (devices.go), which strangers' wrong guesses never spend.
type guessBudget struct {
	key    string
	device bool
	// user is the account whose budget it is, when known (0: not yet
	// looked up); name is the name it was asked for.
	user uint
	name string
}

// browserBudget is the guessBudget of r's browser for the account named
// name. A device cookie counts only for the account it names, and only
// while it holds that account's current session key (devices.go). Only a
// browser that carries an entry for the name costs a lookup of the
// account.
func (s *Server) browserBudget(r *http.Request, name string) guessBudget {
	account := accountKey(name)
	if e, ok := s.devices.entry(r, account); ok {
		if u, err := s.users.ByID(r.Context(), e.User); err == nil && u.Active {
			b := budgetOf(account, e, u)
			b.name = name
			return b
		}
	}
	return guessBudget{key: account, name: name}
}

// ownBudget is the guessBudget of r's browser for the signed-in user u's
// own password checks (change password, sign out others): browserBudget
// without the lookup, u being loaded already.
func (s *Server) ownBudget(r *http.Request, u *users.User) guessBudget {
	account := accountKey(ownGuessKey(u))
	e, _ := s.devices.entry(r, account)
	return budgetOf(account, e, u)
}

// budgetOf is the device budget of entry e when it is one of u's, the
// account whose budget key is account; else the account's shared one.
func budgetOf(account string, e deviceEntry, u *users.User) guessBudget {
	if accountKey(ownGuessKey(u)) != account {
		return guessBudget{key: account}
	}
	if e.Device != "" && e.proves(u) {
		return guessBudget{key: "guess:device:" + e.Device, device: true, user: u.ID}
	}
	return guessBudget{key: account, user: u.ID}
}

// sharedBudget is the account's shared guessBudget, which the API, which
// takes no cookies, always spends.
func sharedBudget(name string) guessBudget { return guessBudget{key: accountKey(name), name: name} }

// spendGuess spends one guess of budget before a password is checked;
// when none is left it returns a 429 (errTooMany) to answer with. The
// guess is spent first, not when it turns out wrong, so that many
// guesses sent at once cannot all be checked before any is counted; a
// right password gives the budget back (rightGuess). Unknown addresses
// have a budget too, so the answer tells nobody which accounts exist.
func (s *Server) spendGuess(ctx context.Context, budget guessBudget) error {
	d := s.limits.Take(ctx, budget.key, guessesPerAccount)
	if d.Allowed {
		return nil
	}
	s.recordLimitHit(ctx, budget.key, s.budgetUser(ctx, budget), "account")
	wait := tryAgainIn(d.RetryAfter)
	reset := "choose a new password with a link by mail: /user/forgot-password"
	if s.cfg.UserLDAP {
		reset = "reset your password with the company directory"
	}
	message := fmt.Sprintf("Too many wrong passwords for this account. %s, or %s. A browser you have signed in with before is not held back.", wait, reset)
	if budget.device {
		message = fmt.Sprintf("Too many wrong passwords for this account from this browser. %s, or %s.", wait, reset)
	}
	return errTooMany(d.RetryAfter, message)
}

// tryAgainIn says when a spent budget has room again, in whole minutes:
// "Try again in 3 minutes".
func tryAgainIn(d time.Duration) string {
	minutes := int(math.Ceil(d.Minutes()))
	if minutes == 1 {
		return "Try again in 1 minute"
	}
	return fmt.Sprintf("Try again in %d minutes", minutes)
}

// rightGuess gives budget its whole allowance back: the owner, who knows
// the password, is not held back by their own sign-ins.
func (s *Server) rightGuess(ctx context.Context, budget guessBudget) {
	s.limits.Reset(ctx, budget.key)
}

// clientAddress is the address of the client that sent r: the TCP peer,
// or, when the peer is a proxy in TRUSTED_PROXIES, the nearest address in
// the header those proxies write (TRUSTED_PROXY_HEADER) that is not one
// of them. Only that header is read: a proxy passes the other one on as
// the client sent it, so reading it would let a client choose its
// address; and headers from a peer that is no trusted proxy are ignored.
func (s *Server) clientAddress(r *http.Request) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !s.trustedProxy(peer) {
		return peer
	}
	var hops []netip.Addr
	if s.cfg.TrustedProxyHeader == "Forwarded" {
		hops = forwardedFor(r.Header.Values("Forwarded"))
	} else {
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for part := range strings.SplitSeq(h, ",") {
				hops = append(hops, parseAddr(strings.TrimSpace(part)))
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if !hops[i].IsValid() {
			break // a hop we cannot read: trust nothing beyond it
		}
		client = hops[i]
		if !s.trustedProxy(client) {
			break
		}
	}
	return client
}

// forwardedFor reads the for= addresses of RFC 7239 Forwarded headers, in
// order; an element without one, or one naming no address (unknown, an
// obfuscated name), is an invalid address.
func forwardedFor(headers []string) []netip.Addr {
	var hops []netip.Addr
	for _, h := range headers {
		for element := range strings.SplitSeq(h, ",") {
			var addr netip.Addr
			for pair := range strings.SplitSeq(element, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(k, "for") {
					addr = parseAddr(strings.Trim(v, `"`))
				}
			}
			hops = append(hops, addr)
		}
	}
	return hops
}

// parseAddr reads "1.2.3.4", "1.2.3.4:80", "[::1]:80" or "::1".
func parseAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, _ := netip.ParseAddr(strings.Trim(s, "[]"))
	return a.Unmap()
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trustedProxies reads TRUSTED_PROXIES (validated by config).
func trustedProxies(cfg *config.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		if prefix, err := config.ParsePrefix(p); err == nil {
			out = append(out, prefix)
		}
	}
	return out
}

// limitKey is the budget key of a client address: an IPv6 client's /64,
// which one host owns whole, so it cannot rotate through it.
func limitKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// keysPerAccount: API keys one account may create, on the page and
// through /api/v1/credentials together (spent only once the account is
// known to be the caller's, so nobody else can use it up). It bounds how
// fast a script gone wrong, or a stolen session, mints credentials;
// users.MaxAPIKeys bounds how many work at once.
var keysPerAccount = ratelimit.Limit{Burst: 10, Period: time.Hour}

// spendKeyCreation spends one of user userID's key creations; when none
// is left it returns a 429 (errTooMany) to answer with.
func (s *Server) spendKeyCreation(ctx context.Context, userID uint) error {
	key := fmt.Sprintf("apikey:create:user:%d", userID)
	d := s.limits.Take(ctx, key, keysPerAccount)
	if d.Allowed {
		return nil
	}
	s.recordLimitHit(ctx, key, userID, "apikey")
	return errTooMany(d.RetryAfter, "You have created too many API keys lately. "+tryAgainIn(d.RetryAfter)+".")
}

// budgetNames are the budgets as the security log names them, under the
// names the metrics count their refusals by (the budget label of
// launchkit_rate_limit_refusals_total): the address budgets by their kind
// (limitAddress), then the account's guesses and its key creations.
var budgetNames = map[string]string{
	"guess":         "password checks per address",
	"post":          "mail and sign-up forms per address",
	"account":       "wrong passwords for the account",
	"second-factor": "wrong second-step codes for the account",
	"passkey":       "passkey sign-ins started per address",
	"apikey":        "API keys created by the account",
}

// limitHitsRecorded: a spent budget is recorded in the security log at
// most once a minute, however often it is refused meanwhile, so that a
// flood does not become a flood of rows.
var limitHitsRecorded = ratelimit.Limit{Burst: 1, Period: time.Minute}

// recordLimitHit counts a refusal by budget (a key of budgetNames) in
// the metrics, and records, at most once a minute per budget key, that the
// budget was spent; userID is the account it is for (0: an address's). A
// failure to record is logged: the refusal stands.
func (s *Server) recordLimitHit(ctx context.Context, key string, userID uint, budget string) {
	s.metrics.ObserveRefusal(budget)
	if !s.limits.Take(ctx, "seclog:"+key, limitHitsRecorded).Allowed {
		return
	}
	e := seclog.Event{Kind: seclog.LimitHit, Detail: "budget: " + budgetNames[budget]}
	if userID != 0 {
		e.UserID = seclog.UserRef(userID)
	}
	if err := s.events.Record(ctx, nil, e); err != nil {
		s.logger.ErrorContext(ctx, "security event not recorded", "err", err)
	}
}

// budgetUser is the account whose guessing budget b is, when there is one
// (looked up by address; a directory username is not looked up), else 0.
func (s *Server) budgetUser(ctx context.Context, b guessBudget) uint {
	if b.user != 0 || b.name == "" || s.cfg.UserLDAP {
		return b.user
	}
	if u, err := s.users.ByEmail(ctx, b.name); err == nil {
		return u.ID
	}
	return 0
}
