package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// from is a visitor at the loopback-style test address 203.0.113.n.
func (s *site) from(n int) *visitor {
	v := s.visitor()
	v.addr = fmt.Sprintf("203.0.113.%d:4000", n)
	return v
}

// credentials posts to /api/v1/credentials as v.
func (v *visitor) credentials(email, password string) *response {
	v.s.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/credentials", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	r.Header.Set("Content-Type", "application/json")
	return v.send(r)
}

// TestGuessingIsLimitedPerAccount: ten wrong passwords for one account in
// fifteen minutes, from any addresses and through the sign-in form and
// the API together, and the next try is refused — even with the right
// password — without reaching the hash. Resetting by mail still works,
// and a reset gives the budget back.
func TestGuessingIsLimitedPerAccount(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password", "dev"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if i%2 == 0 {
			s.from(i).post("/user/sign-in", "email", "ADA@example.com", "password", "guess number "+fmt.Sprint(i)).status(422)
		} else {
			s.from(i).credentials("ada@example.com", "guess number "+fmt.Sprint(i)).status(401)
		}
	}
	s.from(50).post("/user/sign-in", "email", "ada@example.com", "password", "the right password").
		status(429).contains("Too many wrong passwords for this account", "/user/forgot-password")
	s.from(51).credentials("ada@example.com", "the right password").status(429)
	// Other accounts are not held back.
	s.from(52).post("/user/sign-in", "email", "grace@example.com", "password", "a guess at grace").status(422)

	s.from(53).post("/user/forgot-password", "email", "ada@example.com").redirectsTo("/user/forgot-password?sent=1")
	owner := s.from(54)
	owner.post(s.lastLink("ada@example.com"), "password", "a fresh password", "retype_password", "a fresh password").redirectsTo("/")
	s.from(55).post("/user/sign-in", "email", "ada@example.com", "password", "a fresh password").redirectsTo("/")
}

// TestGuessingIsLimitedPerAddress: ten password checks a minute from one
// address, across the sign-in form, the API, the reset form,
// change-password and sign-out-others, whatever the accounts; other
// addresses are not held back.
func TestGuessingIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	me := s.signedIn("me@example.com")
	me.addr = "203.0.113.9:4000"
	me.post("/user/sign-out-others", "password", "not it").status(422)
	for i := range 8 {
		switch i % 3 {
		case 0:
			s.from(9).post("/user/sign-in", "email", fmt.Sprintf("u%d@example.com", i), "password", "a guess").status(422)
		case 1:
			s.from(9).credentials(fmt.Sprintf("u%d@example.com", i), "a guess").status(401)
		case 2:
			s.from(9).post("/user/reset-password/not-a-token", "password", "a fresh password", "retype_password", "a fresh password").status(400)
		}
	}
	me.post("/user/change-password", "old_password", "not it", "password", "a brand new password", "retype_password", "a brand new password").status(422)
	s.from(9).post("/user/sign-in", "email", "other@example.com", "password", "a guess").status(429).header("Retry-After", "6")
	s.from(10).post("/user/sign-in", "email", "other@example.com", "password", "a guess").status(422)
}

// TestChangePasswordIsLimitedPerAccount: a signed-in user (or whoever
// holds their cookie) gets ten wrong current passwords in fifteen
// minutes, from any addresses, then no more hashing.
func TestChangePasswordIsLimitedPerAccount(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	me := s.signedIn("me@example.com")
	for i := range 10 {
		me.addr = fmt.Sprintf("203.0.113.%d:4000", i)
		me.post("/user/change-password", "old_password", "wrong "+fmt.Sprint(i), "password", "a brand new password", "retype_password", "a brand new password").status(422)
	}
	me.addr = "203.0.113.99:4000"
	me.post("/user/change-password", "old_password", "password for me@example.com", "password", "a brand new password", "retype_password", "a brand new password").status(429)
}

// TestTrustedProxies: behind a proxy in TRUSTED_PROXIES the client's
// address comes from X-Forwarded-For (or Forwarded), so one client's
// guesses do not lock the others out; a peer outside the list cannot
// choose its address with those headers.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8", "TRUSTED_PROXY_HEADER": "X-Forwarded-For"})
	viaProxy := func(client string) *visitor {
		v := s.visitor()
		v.addr = "10.1.2.3:5555"
		v.header = http.Header{"X-Forwarded-For": {client + ", 10.9.9.9"}}
		return v
	}
	for i := range 10 {
		viaProxy("192.0.2.50").post("/user/sign-in", "email", fmt.Sprintf("u%d@example.com", i), "password", "a guess").status(422)
	}
	viaProxy("192.0.2.50").post("/user/sign-in", "email", "x@example.com", "password", "a guess").status(429)
	viaProxy("192.0.2.51").post("/user/sign-in", "email", "x@example.com", "password", "a guess").status(422)
	// The proxies write X-Forwarded-For: a Forwarded header is the
	// client's own, passed on, and does not move its address.
	for i := range 3 {
		v := viaProxy("192.0.2.50")
		v.header.Set("Forwarded", fmt.Sprintf("for=198.51.100.%d", i))
		v.post("/user/sign-in", "email", "x@example.com", "password", "a guess").status(429)
	}

	// Proxies that write Forwarded, said so.
	fs := newSite(t, map[string]string{"TRUSTED_PROXIES": "fd00::/8", "TRUSTED_PROXY_HEADER": "Forwarded"})
	for i := range 11 {
		v := fs.visitor()
		v.addr = "[fd00::1]:5555"
		v.header = http.Header{"Forwarded": {`for="[2001:db8::7]:1234";proto=https, for="[fd00::9]"`}, "X-Forwarded-For": {fmt.Sprintf("192.0.2.%d", i)}}
		want := 422
		if i == 10 {
			want = 429 // one client, whatever X-Forwarded-For says
		}
		v.post("/user/sign-in", "email", fmt.Sprintf("f%d@example.com", i), "password", "a guess").status(want)
	}

	spoofer := func(claimed string) *visitor {
		v := s.visitor()
		v.addr = "198.51.100.20:5555"
		v.header = http.Header{"X-Forwarded-For": {claimed}}
		return v
	}
	for i := range 10 {
		spoofer(fmt.Sprintf("192.0.2.%d", 100+i)).post("/user/sign-in", "email", fmt.Sprintf("v%d@example.com", i), "password", "a guess").status(422)
	}
	spoofer("192.0.2.200").post("/user/sign-in", "email", "y@example.com", "password", "a guess").status(429)
}

// TestGuessingLimitsAreSharedThroughRedis: two web processes on one Redis
// count an account's wrong passwords once, not per process.
func TestGuessingLimitsAreSharedThroughRedis(t *testing.T) {
	t.Parallel()
	redisURL := "redis://" + miniredis.RunT(t).Addr()
	shared := map[string]string{"REDIS_URL": redisURL, "DATABASE_URL": "sqlite://" + t.TempDir() + "/shared.db"}
	one, two := newSite(t, shared), newSite(t, shared)
	if _, err := one.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		s := one
		if i%2 == 1 {
			s = two
		}
		s.from(i).post("/user/sign-in", "email", "ada@example.com", "password", "a wrong guess").status(422)
	}
	two.from(40).post("/user/sign-in", "email", "ada@example.com", "password", "the right password").status(429)
	one.from(41).post("/user/sign-in", "email", "ada@example.com", "password", "the right password").status(429)
}

// TestGuessingBudgetHoldsUnderConcurrency: forty wrong passwords for one
// account sent at once, from forty addresses, get at most ten answers
// that checked the password.
func TestGuessingBudgetHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	statuses := make(chan int, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodPost, "/user/sign-in", strings.NewReader("email=ada%40example.com&password=wrong+guess+"+fmt.Sprint(i)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = fmt.Sprintf("203.0.113.%d:4000", i)
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, r)
			statuses <- rec.Code
		}()
	}
	wg.Wait()
	close(statuses)
	checked := 0
	for code := range statuses {
		if code != http.StatusTooManyRequests {
			checked++
		}
	}
	if checked > 10 {
		t.Errorf("%d of 40 concurrent guesses had their password checked, want at most 10", checked)
	}
}

// TestASuccessfulSignInGivesTheBudgetBack: the owner signing in often
// (a script, say) is not held back by their own successes.
func TestASuccessfulSignInGivesTheBudgetBack(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		s.from(i).post("/user/sign-in", "email", "ada@example.com", "password", "the right password").redirectsTo("/")
	}
}

// TestMailToOneAddressIsBudgeted: clients at many addresses asking for
// links to one address (or registering it again) get the usual answer
// each time, but the address gets five mails of each kind an hour: reset
// links, and the rest. Requests that send nothing (a confirmation for a
// confirmed account) spend nothing, so they cannot keep the owner from a
// reset link; other addresses are not held back.
func TestMailToOneAddressIsBudgeted(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_REQUIRE_CONFIRMED_EMAIL": "true"})
	if _, err := s.app.Users.CreateConfirmed(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	ada, err := s.app.Users.ByEmail(t.Context(), "ada@example.com")
	if err != nil || ada.EmailConfirmedAt == nil {
		t.Fatalf("ada: %+v, %v; want a confirmed account", ada, err)
	}
	// Confirmations of a confirmed account: no mail, no budget spent.
	for i := range 8 {
		s.from(i).post("/user/resend-confirmation", "email", " ADA@example.com").redirectsTo("/user/resend-confirmation?sent=1")
	}
	// Notices of a taken address: five of them.
	for i := range 7 {
		s.from(20+i).register("ada@example.com", "a long new password").redirectsTo("/user/sign-in")
	}
	// Reset links: five of them, the notices notwithstanding.
	for i := range 7 {
		s.from(40+i).post("/user/forgot-password", "email", "Ada@Example.com").redirectsTo("/user/forgot-password?sent=1")
	}
	if _, err := s.app.Users.Create(t.Context(), "grace@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	s.from(61).post("/user/forgot-password", "email", "grace@example.com").redirectsTo("/user/forgot-password?sent=1")

	notices, resets := 0, 0
	for _, subject := range s.subjects("ada@example.com") {
		switch {
		case strings.Contains(subject, "new password"):
			resets++
		case strings.Contains(subject, "Your Launchkit account"):
			notices++
		default:
			t.Errorf("ada was mailed %q", subject)
		}
	}
	if notices != 5 || resets != 5 {
		t.Errorf("ada got %d notices and %d reset links, want 5 and 5", notices, resets)
	}
	if got := s.subjects("grace@example.com"); len(got) != 1 {
		t.Errorf("grace got %q, want one reset link", got)
	}
}
