package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
	"github.com/launchkit/launchkit/internal/web"
)

// fakeClock is the time of a site and of its users.Service (whose
// authenticator codes are checked against it), moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mfaSite is newSite with a clock shared by the server (web.WithClock)
// and the users service (Service.Now), starting at the real time in
// whole seconds, as the session keeps times (the session store and the
// budgets read the real one).
func mfaSite(t *testing.T, env map[string]string, opts ...web.Option) (*site, *fakeClock) {
	t.Helper()
	c := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	s := newSite(t, env, append(opts, web.WithClock(c.now))...)
	s.app.Users.Now = c.now
	return s, c
}

// totpCode is the authenticator code of secret at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// withTOTP turns on an authenticator app for the account of email with
// a new key, through the service as the enrolment page does, and returns
// the key and the recovery codes. The code it enrols with is the previous
// step's, so the current one is still unused.
func (s *site) withTOTP(c *fakeClock, email string) (secret string, codes []string) {
	s.t.Helper()
	ctx := context.Background()
	u, err := s.app.Users.ByEmail(ctx, email)
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := s.app.Users.NewTOTPKey(u, "Launchkit")
	if err != nil {
		s.t.Fatal(err)
	}
	codes, err = s.app.Users.EnableTOTP(ctx, u.ID, k.Secret(), totpCode(s.t, k.Secret(), c.now().Add(-30*time.Second)))
	if err != nil {
		s.t.Fatal(err)
	}
	return k.Secret(), codes
}

// createWithTOTP creates the account of email (password "password for
// <email>") with roles and an authenticator app.
func (s *site) createWithTOTP(c *fakeClock, email string, roles ...string) (secret string, codes []string) {
	s.t.Helper()
	if _, err := s.app.Users.Create(context.Background(), email, "password for "+email, roles...); err != nil {
		s.t.Fatal(err)
	}
	return s.withTOTP(c, email)
}

// halfSignIn signs v in with the password of email (and next), which
// leads to the second step.
func (v *visitor) halfSignIn(email string, next ...string) {
	v.s.t.Helper()
	fields := []string{"email", email, "password", "password for " + email}
	if len(next) > 0 {
		fields = append(fields, "next", next[0])
	}
	v.post("/user/sign-in", fields...).redirectsTo("/user/sign-in/two-factor")
}

// sessionToken is v's session cookie's value.
func (v *visitor) sessionToken() string {
	v.s.t.Helper()
	c := v.cookies[v.s.app.Config.SessionCookieName]
	if c == nil {
		v.s.t.Fatal("no session cookie")
	}
	return c.Value
}

// notSignedIn checks that v's session opens neither a page nor the API.
func (v *visitor) notSignedIn() {
	v.s.t.Helper()
	v.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	v.get("/").status(200).lacks("Sign out")
	v.get("/api/v1/me").status(401)
}

// TestSecondStepSignIn, on every database: an account with an
// authenticator app is only half signed in after its password, which
// opens nothing and records no sign-in; a wrong code is a 422, recorded;
// the right one signs in with a new session token and goes to next.
func TestSecondStepSignIn(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		s, c := mfaSite(t, map[string]string{"DATABASE_URL": databaseURL(t)})
		secret, _ := s.createWithTOTP(c, "ada@example.com", "dev")

		v := s.visitor()
		v.halfSignIn("ada@example.com", "/user/security")
		half := v.sessionToken()
		v.notSignedIn()
		// Nothing else opens either: each page and form sends to sign-in.
		for _, path := range []string{"/user/security", "/user/two-factor", "/user/apikeys", "/admin", "/admin/users"} {
			if r := v.get(path); r.rec.Code != http.StatusSeeOther || !strings.HasPrefix(r.rec.Header().Get("Location"), "/user/sign-in?") {
				t.Errorf("GET %s half signed in: %d %s", path, r.rec.Code, r.rec.Header().Get("Location"))
			}
		}
		for _, path := range []string{"/user/two-factor", "/user/two-factor/disable", "/user/two-factor/recovery-codes", "/user/sign-out-others", "/user/apikeys", "/user/profile"} {
			if r := v.post(path, "code", "123456", "password", "password for ada@example.com"); r.rec.Code != http.StatusSeeOther || r.rec.Header().Get("Location") != "/user/sign-in" {
				t.Errorf("POST %s half signed in: %d %s", path, r.rec.Code, r.rec.Header().Get("Location"))
			}
		}
		v.get("/user/sign-in/two-factor").status(200).
			contains(`id="two-factor-form"`, `id="code"`, `name="code"`, `autocomplete="one-time-code"`)
		if n := len(s.eventsOf(seclog.SignIn)); n != 0 {
			t.Errorf("%d sign_in events after the password alone", n)
		}

		v.post("/user/sign-in/two-factor", "code", "").status(422).contains("Enter the 6-digit code")
		wrong := totpCode(t, secret, c.now().Add(-5*time.Minute))
		v.post("/user/sign-in/two-factor", "code", wrong).status(422).
			contains("This code is not right", `aria-invalid="true"`).lacks(wrong)
		v.notSignedIn()
		if e := s.eventsOf(seclog.TwoFactorFailed); len(e) != 1 || e[0].Method != users.MethodPassword {
			t.Errorf("two_factor_failed events %+v", e)
		}

		v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/user/security")
		if token := v.sessionToken(); token == half {
			t.Error("the session token was not renewed by the second step")
		}
		v.signedInAs("ada@example.com")
		v.get("/user/sign-in/two-factor").redirectsTo("/")
		if e := s.eventsOf(seclog.SignIn); len(e) != 1 || e[0].Method != users.MethodPassword || e[0].Detail != "with "+users.FactorTOTP {
			t.Errorf("sign_in events %+v", e)
		}

		// The same code again, from another browser: refused.
		again := s.visitor()
		again.halfSignIn("ada@example.com")
		again.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).status(422)
		again.notSignedIn()

		// The API: the next step's code once.
		c.advance(30 * time.Second)
		code := totpCode(t, secret, c.now())
		api := s.visitor()
		api.credentialsWithOTP("ada@example.com", "password for ada@example.com", "").status(401)
		api.credentialsWithOTP("ada@example.com", "password for ada@example.com", code).status(201)
		api.credentialsWithOTP("ada@example.com", "password for ada@example.com", code).status(401)
	})
}

// TestSecondStepExpires: five minutes after the password the half
// sign-in is gone: back to the sign-in page, even with the right code.
func TestSecondStepExpires(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")

	late := s.visitor()
	late.halfSignIn("ada@example.com")
	c.advance(5*time.Minute + time.Second)
	late.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/user/sign-in")
	late.get("/user/sign-in").status(200).contains("Your sign-in timed out or was not started")
	late.get("/user/sign-in/two-factor").redirectsTo("/user/sign-in")
	late.notSignedIn()

	inTime := s.visitor()
	inTime.halfSignIn("ada@example.com")
	c.advance(5*time.Minute - time.Second)
	inTime.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
	inTime.signedInAs("ada@example.com")
}

// TestSecondStepWithoutAPendingSignIn: the code page, or a code, with no
// password step before is a way back to the sign-in page.
func TestSecondStepWithoutAPendingSignIn(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	v := s.visitor()
	v.get("/user/sign-in/two-factor").redirectsTo("/user/sign-in")
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/user/sign-in")
	v.notSignedIn()
}

// TestSecondStepIsTheAccountsOwn: a half sign-in of ada is not completed
// by grace's code or recovery code, and a password change of ada's
// meanwhile ends it.
func TestSecondStepIsTheAccountsOwn(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	graceSecret, graceCodes := s.createWithTOTP(c, "grace@example.com")

	v := s.visitor()
	v.halfSignIn("ada@example.com")
	v.post("/user/sign-in/two-factor", "code", totpCode(t, graceSecret, c.now())).status(422)
	v.post("/user/sign-in/two-factor", "code", graceCodes[0]).status(422)
	v.notSignedIn()

	ada, err := s.app.Users.ByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Users.ChangePassword(t.Context(), ada.ID, "password for ada@example.com", "a brand new password"); err != nil {
		t.Fatal(err)
	}
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/user/sign-in")
	v.notSignedIn()
	// Grace's codes were not spent by ada's page.
	g := s.visitor()
	g.halfSignIn("grace@example.com")
	g.post("/user/sign-in/two-factor", "code", graceCodes[0]).redirectsTo("/")
}

// TestRecoveryCodeSignsInOnce: a recovery code, typed loosely, completes
// the second step once and says how many are left.
func TestRecoveryCodeSignsInOnce(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	_, codes := s.createWithTOTP(c, "ada@example.com")

	v := s.visitor()
	v.halfSignIn("ada@example.com")
	v.post("/user/sign-in/two-factor", "code", " "+strings.ToUpper(codes[3])+" ").redirectsTo("/")
	v.get("/").status(200).contains("You signed in with a recovery code; 9 left")
	if e := s.eventsOf(seclog.RecoveryCodeUsed); len(e) != 1 {
		t.Errorf("recovery_code_used events %+v", e)
	}
	if e := s.eventsOf(seclog.SignIn); len(e) != 1 || e[0].Detail != "with "+users.FactorRecoveryCode {
		t.Errorf("sign_in events %+v", e)
	}

	again := s.visitor()
	again.halfSignIn("ada@example.com")
	again.post("/user/sign-in/two-factor", "code", codes[3]).status(422)
	again.notSignedIn()
}

// TestSecondStepGuessesArePerAccount: ten wrong codes for one account,
// from ten addresses and through the page and the API together, and the
// eleventh try is refused even with the right code; other accounts are
// not held back.
func TestSecondStepGuessesArePerAccount(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	graceSecret, _ := s.createWithTOTP(c, "grace@example.com")
	for i := range 10 {
		wrong := fmt.Sprintf("%06d", 111111*(i%9+1))
		if wrong == totpCode(t, secret, c.now()) {
			wrong = "000000"
		}
		if i%2 == 0 {
			v := s.from(i)
			v.halfSignIn("ada@example.com")
			v.post("/user/sign-in/two-factor", "code", wrong).status(422)
		} else {
			s.from(i).credentialsWithOTP("ada@example.com", "password for ada@example.com", wrong).status(401)
		}
	}
	v := s.from(50)
	v.halfSignIn("ada@example.com")
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).status(429).contains("Too many wrong codes for this account")
	v.notSignedIn()
	s.from(51).credentialsWithOTP("ada@example.com", "password for ada@example.com", totpCode(t, secret, c.now())).status(429)
	if e := s.eventsOf(seclog.LimitHit); len(e) == 0 {
		t.Error("the spent budget is not in the security log")
	}

	g := s.from(52)
	g.halfSignIn("grace@example.com")
	g.post("/user/sign-in/two-factor", "code", totpCode(t, graceSecret, c.now())).redirectsTo("/")
}

// TestSecondStepGuessesArePerAddress: codes count against the address's
// password-guessing budget too: from one address, the password and nine
// codes, and the next try is refused there, while the account's own
// budget still lets the right code in from elsewhere.
func TestSecondStepGuessesArePerAddress(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	v := s.from(1)
	v.halfSignIn("ada@example.com")
	for range 9 {
		v.post("/user/sign-in/two-factor", "code", "000000").status(422)
	}
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).status(429)
	v.notSignedIn()

	other := s.from(2)
	other.halfSignIn("ada@example.com")
	other.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
	other.signedInAs("ada@example.com")
}

// credentialsWithOTP posts to /api/v1/credentials as v, with otp unless
// it is "".
func (v *visitor) credentialsWithOTP(email, password, otp string) *response {
	v.s.t.Helper()
	body := map[string]string{"email": email, "password": password}
	if otp != "" {
		body["otp"] = otp
	}
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(http.MethodPost, "/api/v1/credentials", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	return v.send(r)
}

// TestCredentialsWithASecondFactor: the API trades a password for a key
// only with "otp", a right and unused code, for an account with an
// authenticator app.
func TestCredentialsWithASecondFactor(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, codes := s.createWithTOTP(c, "ada@example.com", "dev")
	api := s.visitor()
	const pw = "password for ada@example.com"

	status, message := api.credentialsWithOTP("ada@example.com", pw, "").status(401).jsonError()
	if status != 401 || !strings.Contains(message, `send "otp"`) {
		t.Errorf("without otp: %d %q", status, message)
	}
	api.credentialsWithOTP("ada@example.com", pw, "000000").status(401)
	api.credentialsWithOTP("ada@example.com", "a wrong password", totpCode(t, secret, c.now())).status(401)
	code := totpCode(t, secret, c.now())
	key := api.credentialsWithOTP("ada@example.com", pw, code).status(201).decode()["key"].(string)
	s.me(key).status(200).contains("ada@example.com")
	api.credentialsWithOTP("ada@example.com", pw, code).status(401)
	api.credentialsWithOTP("ada@example.com", pw, codes[0]).status(201)
	api.credentialsWithOTP("ada@example.com", pw, codes[0]).status(401)
	if e := s.eventsOf(seclog.SignIn); len(e) != 2 || e[0].Method != users.MethodAPI {
		t.Errorf("sign_in events %+v", e)
	}
}

// TestCredentialsWhenARoleNeedsASecondFactor: with MFA_REQUIRED_ROLES, an
// account of such a role without a second factor gets no key from the
// API; others do.
func TestCredentialsWhenARoleNeedsASecondFactor(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"})
	for _, email := range []string{"root@example.com", "dev@example.com"} {
		role := map[string]string{"root@example.com": "admin", "dev@example.com": "dev"}[email]
		if _, err := s.app.Users.Create(t.Context(), email, "password for "+email, role); err != nil {
			t.Fatal(err)
		}
	}
	_, message := s.visitor().credentialsWithOTP("root@example.com", "password for root@example.com", "").status(403).jsonError()
	if !strings.Contains(message, "second factor") {
		t.Errorf("403 message %q", message)
	}
	// The refusal is no sign-in: the log says it was refused, and why.
	rootID := userID(t, s, "root@example.com")
	for _, e := range s.eventsOf(seclog.SignIn) {
		if e.UserID != nil && *e.UserID == rootID {
			t.Errorf("a refused API sign-in is recorded as a sign-in: %+v", e)
		}
	}
	if failed := s.eventsOf(seclog.SignInFailed); len(failed) != 1 || !strings.Contains(failed[0].Detail, "second factor") {
		t.Errorf("failed sign-ins = %+v, want one saying a second factor is needed", failed)
	}
	s.visitor().credentialsWithOTP("dev@example.com", "password for dev@example.com", "").status(201)
	secret, _ := s.withTOTP(c, "root@example.com")
	s.visitor().credentialsWithOTP("root@example.com", "password for root@example.com", totpCode(t, secret, c.now())).status(201)
}

// TestMFARequiredRolesHoldsBackUntilSetUp: an admin without a second
// factor, with MFA_REQUIRED_ROLES=admin, reaches only the pages that set
// one up and sign-out; a user is not held back; once the admin has one,
// everything opens.
func TestMFARequiredRolesHoldsBackUntilSetUp(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"})
	admin := s.signedIn("root@example.com", "admin")
	for _, path := range []string{"/", "/user/profile", "/user/apikeys", "/admin", "/admin/users", "/user/change-password"} {
		admin.get(path).redirectsTo("/user/security")
	}
	for _, path := range []string{"/user/profile", "/user/apikeys", "/user/change-password", "/admin/users/new"} {
		admin.post(path, "name", "x").status(403).contains("Your role needs a second factor")
	}
	admin.get("/user/security").status(200).contains("Your role needs a second factor before you can use the rest of the site")
	// The setup pages are not held back (their handlers are other work).
	for _, r := range []*response{admin.get("/user/two-factor"), admin.post("/user/two-factor", "code", "123456"), admin.post("/user/passkeys/register/begin")} {
		if r.rec.Code == http.StatusForbidden || (r.rec.Code == http.StatusSeeOther && r.rec.Header().Get("Location") == "/user/security") {
			t.Errorf("a setup page is held back: %d %s", r.rec.Code, r.rec.Header().Get("Location"))
		}
	}

	user := s.signedIn("ada@example.com")
	user.get("/user/profile").status(200)
	user.get("/user/security").status(200).lacks("Your role needs a second factor")

	s.withTOTP(c, "root@example.com")
	admin.get("/admin/users").status(200)
	admin.get("/user/security").status(200).lacks("Your role needs a second factor")

	other := s.signedIn("other@example.com", "admin")
	other.post("/user/sign-out").redirectsTo("/")
	other.signedOut()
}

// TestSSOSecondFactor: a provider's sign-in of an account with an
// authenticator app still needs its code, unless the provider says (amr)
// it checked a second factor itself; that also counts for
// MFA_REQUIRED_ROLES. A provider's MFA does not carry over to another
// account signed in later in the same browser.
func TestSSOSecondFactor(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	p := op.Config("acme")
	p.Label, p.AllowSignup, p.TrustEmail = "Acme ID", true, true
	list, err := json.Marshal([]config.OIDCProvider{p})
	if err != nil {
		t.Fatal(err)
	}
	s, c := mfaSite(t, map[string]string{"OIDC_PROVIDERS": string(list), "MFA_REQUIRED_ROLES": "admin"})
	secret, _ := s.createWithTOTP(c, "grace@example.com")
	withMFA := map[string]any{"amr": []string{"pwd", "mfa"}}

	v := s.visitor()
	op.Next(grace)
	v.throughProvider("acme").redirectsTo("/user/sign-in/two-factor")
	v.notSignedIn()
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
	v.signedInAs("grace@example.com")
	if e := s.eventsOf(seclog.SignIn); len(e) != 1 || e[0].Method != "sso:acme" || e[0].Detail != "with "+users.FactorTOTP {
		t.Errorf("sign_in events %+v", e)
	}

	direct := s.visitor()
	g := grace
	g.Extra = withMFA
	op.Next(g)
	direct.throughProvider("acme").redirectsTo("/")
	direct.signedInAs("grace@example.com")
	if e := s.eventsOf(seclog.SignIn); len(e) != 2 || e[1].Detail != "with the provider's second factor" {
		t.Errorf("sign_in events %+v", e)
	}

	// An admin without a factor here, through a provider that checked one.
	if _, err := s.app.Users.Create(t.Context(), "root@example.com", "password for root@example.com", "admin"); err != nil {
		t.Fatal(err)
	}
	root := s.visitor()
	op.Next(testenv.OIDCUser{Subject: "root-1", Email: "root@example.com", EmailVerified: true, Extra: withMFA})
	root.throughProvider("acme").redirectsTo("/")
	root.get("/admin/users").status(200)
	// A new session of the same account (a password change) keeps it.
	root.post("/user/change-password", "old_password", "password for root@example.com", "password", "a new root password", "retype_password", "a new root password").redirectsTo("/user/profile")
	root.get("/admin/users").status(200)
	// The same browser signs in as another admin by password: the
	// provider's check was not theirs.
	if _, err := s.app.Users.Create(t.Context(), "boss@example.com", "password for boss@example.com", "admin"); err != nil {
		t.Fatal(err)
	}
	root.post("/user/sign-in", "email", "boss@example.com", "password", "password for boss@example.com").redirectsTo("/")
	root.get("/admin/users").redirectsTo("/user/security")

	// Without the provider's check, that admin is held back.
	plain := s.visitor()
	op.Next(testenv.OIDCUser{Subject: "root-1", Email: "root@example.com", EmailVerified: true})
	plain.throughProvider("acme").redirectsTo("/")
	plain.get("/admin/users").redirectsTo("/user/security")
}

// TestDirectoryUserWithTOTPGetsTheSecondStep: a directory bind is the
// first step only.
func TestDirectoryUserWithTOTPGetsTheSecondStep(t *testing.T) {
	dir := testenv.Slapd(t)
	settings := dir.Settings()
	s, c := mfaSite(t, settings)
	alice := s.visitor()
	alice.directorySignIn("alice").redirectsTo("/")
	secret, _ := s.withTOTP(c, "alice@example.org")

	v := s.visitor()
	v.directorySignIn("alice").redirectsTo("/user/sign-in/two-factor")
	v.notSignedIn()
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
	v.signedInAs("alice@example.org")
	if e := s.eventsOf(seclog.SignIn); len(e) != 2 || e[1].Method != users.MethodDirectory || e[1].Detail != "with "+users.FactorTOTP {
		t.Errorf("sign_in events %+v", e)
	}
}

// TestPasswordResetStillNeedsTheSecondFactor: a reset link proves the
// mailbox in place of the password, not the second factor: it leads to
// the code page, not into the account.
func TestPasswordResetStillNeedsTheSecondFactor(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	v := s.visitor()
	v.post("/user/forgot-password", "email", "ada@example.com").redirectsTo("/user/forgot-password?sent=1")
	v.post(s.lastLink("ada@example.com"), "password", "a fresh password", "retype_password", "a fresh password").redirectsTo("/user/sign-in/two-factor")
	v.get("/user/sign-in/two-factor").status(200).contains("Your new password is set", `id="two-factor-form"`)
	v.notSignedIn()
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
	v.signedInAs("ada@example.com")
	if e := s.eventsOf(seclog.SignIn); len(e) != 1 || e[0].Method != users.MethodLink {
		t.Errorf("sign_in events %+v", e)
	}
	// And the new password is the first step from now on.
	w := s.visitor()
	w.post("/user/sign-in", "email", "ada@example.com", "password", "a fresh password").redirectsTo("/user/sign-in/two-factor")
}

// TestSecondStepFromAnotherSignedInAccount: a browser signed in as grace
// that signs in as ada (who has an app) gets ada's code page, and the
// code switches it to ada.
func TestSecondStepFromAnotherSignedInAccount(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	v := s.signedIn("grace@example.com")
	v.halfSignIn("ada@example.com")
	v.get("/user/sign-in/two-factor").status(200).contains(`id="two-factor-form"`)
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
	v.signedInAs("ada@example.com")
}

// TestSecondStepCodeUsedAtOnce, on every database: two browsers half
// signed in as ada sending one code at the same moment: one gets in.
func TestSecondStepCodeUsedAtOnce(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		s, c := mfaSite(t, map[string]string{"DATABASE_URL": databaseURL(t)})
		secret, _ := s.createWithTOTP(c, "ada@example.com")
		browsers := []*visitor{s.from(1), s.from(2), s.from(3)}
		for _, v := range browsers {
			v.halfSignIn("ada@example.com")
		}
		code := totpCode(t, secret, c.now())
		got := make([]int, len(browsers))
		var wg sync.WaitGroup
		for i, v := range browsers {
			wg.Go(func() {
				form := "code=" + code
				r := httptest.NewRequest(http.MethodPost, "/user/sign-in/two-factor", strings.NewReader(form))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				for _, ck := range v.cookies {
					r.AddCookie(ck)
				}
				r.RemoteAddr = v.addr
				rec := httptest.NewRecorder()
				s.handler.ServeHTTP(rec, r)
				got[i] = rec.Code
			})
		}
		wg.Wait()
		in := 0
		for _, code := range got {
			switch code {
			case http.StatusSeeOther:
				in++
			case http.StatusUnprocessableEntity:
			default:
				t.Errorf("status %d", code)
			}
		}
		if in != 1 {
			t.Errorf("%d of %d browsers got in with one code (statuses %v)", in, len(got), got)
		}
	})
}

// TestSecondStepNextStaysOnTheSite: next after the code is a local path.
func TestSecondStepNextStaysOnTheSite(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, _ := s.createWithTOTP(c, "ada@example.com")
	v := s.visitor()
	v.halfSignIn("ada@example.com", "https://evil.example/")
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).redirectsTo("/")
}

// TestSecondStepWhenTheKeyCannotBeRead: after SECRET_KEY changed with no
// fallback, app codes cannot be checked: the page says so (not a 500),
// and a recovery code still signs in.
func TestSecondStepWhenTheKeyCannotBeRead(t *testing.T) {
	t.Parallel()
	s, c := mfaSite(t, nil)
	secret, codes := s.createWithTOTP(c, "ada@example.com")
	k, err := keyring.New("a SECRET_KEY that sealed nothing here, 32+ bytes", nil, s.app.Config.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	s.app.Users.Secrets = k.AtRestSealer(keyring.SecondFactor)
	v := s.visitor()
	v.halfSignIn("ada@example.com")
	v.post("/user/sign-in/two-factor", "code", totpCode(t, secret, c.now())).status(422).
		contains("cannot be checked at the moment: use a recovery code")
	v.post("/user/sign-in/two-factor", "code", codes[0]).redirectsTo("/")
	v.signedInAs("ada@example.com")
	if !strings.Contains(s.logs.String(), "authenticator key cannot be decrypted") {
		t.Error("the operator is not told in the log")
	}
}
