package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/testenv"
)

// totpSite is a site on databaseURL ("" for a fresh SQLite) whose clock,
// the users service's too, is the returned one.
func totpSite(t *testing.T, databaseURL string, env map[string]string) (*site, *fakeClock) {
	t.Helper()
	vars := map[string]string{}
	for k, v := range env {
		vars[k] = v
	}
	if databaseURL != "" {
		vars["DATABASE_URL"] = databaseURL
	}
	return mfaSite(t, vars)
}

var (
	shownSecret = regexp.MustCompile(`id="totp-secret" data-secret="([A-Z2-7]+)"`)
	shownCodes  = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// setupKey opens the set-up page and returns the key it shows.
func (v *visitor) setupKey() string {
	v.s.t.Helper()
	page := v.get("/user/two-factor").status(200).contains(`<code class="wrap-anywhere" id="totp-uri">otpauth://totp/`, `<img class="totp-qr" id="totp-qr" src="data:image/png;base64,`, `id="two-factor-enable"`).body
	m := shownSecret.FindStringSubmatch(page)
	if m == nil {
		v.s.t.Fatalf("no key on the set-up page:\n%s", page)
	}
	return m[1]
}

// code is the authenticator code of secret at the clock's time.
func code(t *testing.T, secret string, clock *fakeClock) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, clock.now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol turns on the authenticator app of v's account and returns its
// key and recovery codes.
func (v *visitor) enrol(clock *fakeClock) (string, []string) {
	v.s.t.Helper()
	secret := v.setupKey()
	page := v.post("/user/two-factor", "code", code(v.s.t, secret, clock)).status(200).contains(`<ol class="recovery-codes" id="recovery-codes">`).
		header("Cache-Control", "private, no-store").body
	var codes []string
	for _, m := range shownCodes.FindAllStringSubmatch(page, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		v.s.t.Fatalf("recovery codes shown: %q", codes)
	}
	clock.advance(30 * time.Second) // the code used to enrol is spent
	return secret, codes
}

// TestTwoFactorEnrolAndDisableOnEveryDatabase: the key is shown as a QR
// code and as text and stays the same on a reload; a wrong code is
// refused; the right one turns the app on and shows the recovery codes
// once; the next sign-in asks for a code; turning it off needs the
// password and a code and signs out the other sessions.
func TestTwoFactorEnrolAndDisableOnEveryDatabase(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		s, clock := totpSite(t, databaseURL(t), nil)
		v := s.signedIn("ada@example.com")
		other := s.visitor()
		other.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/")

		v.get("/user/security").status(200).contains(`id="security-two-factor-title"`, "Off", `href="/user/two-factor"`, "Set up an authenticator app")
		secret := v.setupKey()
		if again := v.setupKey(); again != secret {
			t.Errorf("a reload shows another key: %s, then %s", secret, again)
		}
		page := v.get("/user/two-factor").body
		uri := between(t, page, `id="totp-uri">`, "</code>")
		if !strings.Contains(uri, "secret="+secret) || !strings.Contains(uri, "issuer=") || !strings.Contains(uri, "ada@example.com") {
			t.Errorf("the otpauth URI is %s", uri)
		}
		if groups := between(t, page, `data-secret="`+secret+`">`, "</code>"); !strings.HasPrefix(groups, `data-secret="`+secret+`"><span>`+secret[:4]+`</span><span>`+secret[4:8]+`</span>`) {
			t.Errorf("the key is not shown in groups of four: %s", groups)
		}

		wrong := fmt.Sprintf("%06d", (atoi(code(t, secret, clock))+1)%1000000)
		v.post("/user/two-factor", "code", wrong).status(422).
			contains(`id="code-error"`, "This code is not right", `data-secret="`+secret+`"`).lacks("recovery-codes")
		v.post("/user/two-factor", "code", "").status(422).contains(`id="code-error"`)

		_, codes := v.enrol(clock)
		if e := s.eventsOf(seclog.TwoFactorEnabled); len(e) != 1 {
			t.Errorf("enabled events = %+v", e)
		}
		// The post sent again (a double click, Back and resend) shows no
		// codes, only that the app is on.
		v.post("/user/two-factor", "code", code(t, secret, clock)).redirectsTo("/user/two-factor")
		v.get("/user/two-factor").status(200).contains("Your authenticator app is already on.").lacks(codes[0])
		// The codes are shown once: the page now manages the app.
		v.get("/user/two-factor").status(200).contains("On", "10 recovery codes left", `id="two-factor-disable"`, `id="two-factor-regenerate"`).
			lacks(codes[0], `id="recovery-codes"`, `id="totp-secret"`)
		v.get("/user/security").status(200).contains("On since", "10 recovery codes left", "Manage the app")
		// The admin's list marks the accounts with a second factor.
		list := s.signedIn("root@example.com", "admin").get("/admin/users").status(200).body
		if row := between(t, list, "<span>ada@example.com</span>", "</tr>"); !strings.Contains(row, ">2FA</span>") {
			t.Errorf("ada's row lacks the 2FA badge: %s", row)
		}
		if row := between(t, list, "<span>root@example.com</span>", "</tr>"); strings.Contains(row, "2FA") {
			t.Errorf("root's row has a 2FA badge: %s", row)
		}

		// The next sign-in asks for a code.
		next := s.visitor()
		next.addr = "198.51.100.8:1234" // beside v's address budget
		next.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/user/sign-in/two-factor")
		next.post("/user/sign-in/two-factor", "code", code(t, secret, clock)).redirectsTo("/")
		next.signedInAs("ada@example.com")
		clock.advance(30 * time.Second)

		// Turning it off needs both; with both, it is off and the other
		// sessions are over, this one goes on.
		v.post("/user/two-factor/disable", "password", "password for ada@example.com", "code", "").status(422).contains(`id="disable-code-error"`)
		v.post("/user/two-factor/disable", "password", "password for ada@example.com", "code", code(t, secret, clock)).redirectsTo("/user/security")
		v.get("/user/security").status(200).contains("every other session of yours is signed out", "Set up an authenticator app")
		other.signedOut()
		next.signedOut()
		if e := s.eventsOf(seclog.TwoFactorDisabled); len(e) != 1 {
			t.Errorf("disabled events = %+v", e)
		}
		// Its recovery codes are gone with it,
		// and a sign-in needs the password alone.
		last := s.visitor()
		last.addr = "198.51.100.9:1234" // beside the address budget the others spent
		last.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/")
		if f, err := s.app.Users.SecondFactors(context.Background(), userID(t, s, "ada@example.com")); err != nil || f.TOTP || f.RecoveryCodesLeft != 0 {
			t.Errorf("after turning off: %+v, %v", f, err)
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func userID(t *testing.T, s *site, email string) uint {
	t.Helper()
	u, err := s.app.Users.ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestTwoFactorSetupKeyExpires: the key shown is the one to confirm for
// ten minutes; after that a post is sent back to a new key, and the page
// shows another.
func TestTwoFactorSetupKeyExpires(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	v := s.signedIn("ada@example.com")
	secret := v.setupKey()
	clock.advance(11 * time.Minute)
	v.post("/user/two-factor", "code", code(t, secret, clock)).redirectsTo("/user/two-factor")
	if again := v.setupKey(); again == secret {
		t.Error("the expired key is still shown")
	}
	if f, _ := s.app.Users.SecondFactors(context.Background(), userID(t, s, "ada@example.com")); f.TOTP {
		t.Error("an expired key was turned on")
	}
}

// TestTwoFactorSetupKeyIsTheUsers: THE ATTACK. Someone opens the set-up
// page on a shared computer and leaves it signed in; the next person
// signs in to their own account in that browser (a sign-in keeps the
// session's data). They are shown a key of their own, not the one the
// first saw, which would let the first make their codes.
func TestTwoFactorSetupKeyIsTheUsers(t *testing.T) {
	t.Parallel()
	s, _ := totpSite(t, "", nil)
	if _, err := s.app.Users.Create(context.Background(), "grace@example.com", "password for grace@example.com"); err != nil {
		t.Fatal(err)
	}
	v := s.signedIn("mallory@example.com")
	seen := v.setupKey()
	v.post("/user/sign-in", "email", "grace@example.com", "password", "password for grace@example.com").redirectsTo("/")
	v.signedInAs("grace@example.com")
	if mine := v.setupKey(); mine == seen {
		t.Fatal("grace is shown the key mallory saw")
	}
}

// TestTwoFactorDisableNeedsPasswordAndCode: THE ATTACK. Someone holding
// only a stolen session cannot turn the app off: neither without the
// password nor without a code, and a wrong one of either is refused
// inline.
func TestTwoFactorDisableNeedsPasswordAndCode(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	v := s.signedIn("ada@example.com")
	secret, codes := v.enrol(clock)
	const password = "password for ada@example.com"

	for _, tc := range []struct {
		name, password, code, problem string
	}{
		{"neither", "", "", `id="disable-password-error"`},
		{"no password", "", code(t, secret, clock), `id="disable-password-error"`},
		{"no code", password, "", `id="disable-code-error"`},
		{"wrong password", "not the password", code(t, secret, clock), "This is not your password."},
		{"wrong code", password, "000000", "This code is not right"},
		{"wrong recovery code", password, "aaaaa-bbbbb", "This code is not right"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := v.in(t).post("/user/two-factor/disable", "password", tc.password, "code", tc.code).status(422).
				contains(tc.problem, `<details class="confirm" open>`)
			if tc.password != "" {
				r.lacks(tc.password + `"`) // typed passwords are never sent back
			}
		})
	}
	if f, _ := s.app.Users.SecondFactors(context.Background(), userID(t, s, "ada@example.com")); !f.TOTP {
		t.Fatal("the app was turned off")
	}
	if n := len(s.eventsOf(seclog.TwoFactorFailed)); n != 2 {
		t.Errorf("failed codes recorded: %d, want 2 (the wrong password stops before the code)", n)
	}
	// A recovery code does it, with the password.
	v.post("/user/two-factor/disable", "password", password, "code", strings.ToUpper(codes[3])).redirectsTo("/user/security")
}

// TestRecoveryCodesRegenerate: new codes need a current code from the
// app (a recovery code is refused, and not spent); the new ones are shown
// once and the old ones no longer sign in.
func TestRecoveryCodesRegenerate(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	v := s.signedIn("ada@example.com")
	secret, old := v.enrol(clock)

	// Without an app there is nothing to renew.
	s.signedIn("grace@example.com").post("/user/two-factor/recovery-codes", "code", "123456").redirectsTo("/user/two-factor")

	v.post("/user/two-factor/recovery-codes", "code", "").status(422).contains(`id="regenerate-code-error"`)
	v.post("/user/two-factor/recovery-codes", "code", old[0]).status(422).contains(`id="regenerate-code-error"`, "recovery codes do not work here")
	v.post("/user/two-factor/recovery-codes", "code", "123456").status(422).contains("This code is not right")
	page := v.post("/user/two-factor/recovery-codes", "code", code(t, secret, clock)).status(200).
		contains(`id="recovery-codes"`, "the old ones no longer work").body
	fresh := shownCodes.FindAllStringSubmatch(page, -1)
	if len(fresh) != 10 || fresh[0][1] == old[0] {
		t.Fatalf("new codes: %q", fresh)
	}
	if e := s.eventsOf(seclog.RecoveryCodesRegenerated); len(e) != 1 {
		t.Errorf("regenerated events = %+v", e)
	}
	// The same code a second time is refused: it is used up.
	v.post("/user/two-factor/recovery-codes", "code", code(t, secret, clock)).status(422)
	v.get("/user/two-factor").status(200).contains("10 recovery codes left").lacks(fresh[0][1])

	signIn := func(code string) *response {
		w := s.visitor()
		w.addr = "198.51.100.7:1234" // beside v's address budget
		w.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/user/sign-in/two-factor")
		return w.post("/user/sign-in/two-factor", "code", code)
	}
	signIn(old[0]).status(422)
	signIn(fresh[1][1]).redirectsTo("/")
	v.get("/user/security").status(200).contains("9 recovery codes left")
}

// TestRecoveryCodesRunningLowAreFlagged: at three codes left or fewer,
// the security card and the app's page say to make new ones.
func TestRecoveryCodesRunningLowAreFlagged(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	v := s.signedIn("ada@example.com")
	_, codes := v.enrol(clock)
	for i, c := range codes[:7] {
		w := s.visitor()
		w.addr = fmt.Sprintf("198.51.100.%d:1234", i+1) // each from its own address budget
		w.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/user/sign-in/two-factor")
		w.post("/user/sign-in/two-factor", "code", c).redirectsTo("/")
	}
	v.get("/user/security").status(200).contains("3 recovery codes left: make new ones")
	v.get("/user/two-factor").status(200).contains("3 recovery codes left: make new ones")
}

// TestTwoFactorWarnsOfAGeneratedSecretKey: in development without a
// SECRET_KEY (one is made at each start), the set-up page says the app's
// codes stop working at the next start.
func TestTwoFactorWarnsOfAGeneratedSecretKey(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	if !s.app.Config.GeneratedSecretKey {
		t.Skip("the development site has a SECRET_KEY")
	}
	v := s.signedIn("ada@example.com")
	v.get("/user/two-factor").status(200).contains("makes a new SECRET_KEY at each start", "Set SECRET_KEY")
	newSite(t, map[string]string{"SECRET_KEY": strings.Repeat("k", 40)}).signedIn("ada@example.com").get("/user/two-factor").status(200).lacks("makes a new SECRET_KEY")
}

// TestAdminResetsSecondFactors: an admin sees a user's second factors
// and resets them, which signs the user out everywhere and is recorded
// with the admin as actor; an unknown user is a 404, and nobody else may.
func TestAdminResetsSecondFactors(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	ada := s.signedIn("ada@example.com")
	secret, _ := ada.enrol(clock)
	id := userID(t, s, "ada@example.com")
	admin := s.signedIn("root@example.com", "admin")

	edit := fmt.Sprintf("/admin/users/%d/edit", id)
	admin.get(edit).status(200).contains(`id="second-factors-title"`, "Authenticator app, on since", "10 recovery codes left",
		fmt.Sprintf(`action="/admin/users/%d/reset-second-factors"`, id), "Yes, reset second factors")
	ada.post(fmt.Sprintf("/admin/users/%d/reset-second-factors", id)).status(403)
	admin.post("/admin/users/999999/reset-second-factors").status(404)

	admin.post(fmt.Sprintf("/admin/users/%d/reset-second-factors", id)).redirectsTo(edit)
	admin.get(edit).status(200).contains("Reset the second factors of ada@example.com", "None: this account signs in with its password alone")
	ada.signedOut()
	e := s.eventsOf(seclog.TwoFactorReset)
	if len(e) != 1 || *e[0].UserID != id || e[0].ActorID == nil || *e[0].ActorID != userID(t, s, "root@example.com") {
		t.Fatalf("reset events = %+v", e)
	}
	// The password alone signs in now; the old key is gone.
	s.visitor().post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/")
	if f, _ := s.app.Users.SecondFactors(context.Background(), id); f.Any() {
		t.Errorf("after the reset: %+v (key %s)", f, secret)
	}

}

// TestAdminCannotResetTheirOwnSecondFactors: that would skip the
// password and the code turning them off asks for, so a stolen admin
// session could remove its owner's app; another admin can.
func TestAdminCannotResetTheirOwnSecondFactors(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	admin := s.signedIn("root@example.com", "admin")
	admin.enrol(clock)
	rootID := userID(t, s, "root@example.com")
	admin.get(fmt.Sprintf("/admin/users/%d/edit", rootID)).status(200).contains("These are yours").
		lacks(fmt.Sprintf(`action="/admin/users/%d/reset-second-factors"`, rootID))
	admin.post(fmt.Sprintf("/admin/users/%d/reset-second-factors", rootID)).status(403).contains("Security page")
	if f, _ := s.app.Users.SecondFactors(context.Background(), rootID); !f.TOTP {
		t.Fatalf("an admin reset their own second factors: %+v", f)
	}
	if e := s.eventsOf(seclog.TwoFactorReset); len(e) != 0 {
		t.Fatalf("reset events = %+v", e)
	}
	other := s.signedIn("other@example.com", "admin")
	other.post(fmt.Sprintf("/admin/users/%d/reset-second-factors", rootID)).redirectsTo(fmt.Sprintf("/admin/users/%d/edit", rootID))
	admin.signedOut()
}

// TestTwoFactorDisableWithoutAPassword: an account made by a provider
// has no password to show, so turning its app off needs a sign-in within
// the last ten minutes (and a code), not only a session.
func TestTwoFactorDisableWithoutAPassword(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	p := op.Config("acme")
	p.Label, p.AllowSignup = "Acme ID", true
	list, err := json.Marshal([]config.OIDCProvider{p})
	if err != nil {
		t.Fatal(err)
	}
	s, clock := totpSite(t, "", map[string]string{"OIDC_PROVIDERS": string(list)})
	v := s.visitor()
	op.Next(grace)
	v.throughProvider("acme").redirectsTo("/")
	secret, _ := v.enrol(clock)
	v.get("/user/security").status(200).contains("a second factor of its own, that counts")
	v.get("/user/two-factor").status(200).lacks(`id="disable-password"`)

	clock.advance(11 * time.Minute)
	v.get("/user/two-factor").status(200).contains("needs a sign-in within the last 10 minutes")
	v.post("/user/two-factor/disable", "code", code(t, secret, clock)).status(422).contains("turning the app off needs a recent sign-in")
	// A password typed anyway does not stand in for the recent sign-in.
	v.post("/user/two-factor/disable", "password", "anything", "code", code(t, secret, clock)).status(422).contains("needs a recent sign-in")

	// A new sign-in (the provider, then the app's code) opens it.
	fresh := s.visitor()
	op.Next(grace)
	fresh.throughProvider("acme").redirectsTo("/user/sign-in/two-factor")
	fresh.post("/user/sign-in/two-factor", "code", code(t, secret, clock)).redirectsTo("/")
	clock.advance(30 * time.Second)
	fresh.post("/user/two-factor/disable", "code", code(t, secret, clock)).redirectsTo("/user/security")
	v.signedOut()
}

// TestTwoFactorForDirectoryUsers: the security card tells a directory
// user that the code comes after the directory password; turning the app
// off asks for that password, which the directory checks: none, or a
// wrong one, is refused.
func TestTwoFactorForDirectoryUsers(t *testing.T) {
	dir := testenv.Slapd(t)
	s, clock := totpSite(t, "", dir.Settings())
	alice := s.visitor()
	alice.directorySignIn("alice").redirectsTo("/")
	secret, _ := alice.enrol(clock)
	alice.get("/user/security").status(200).contains("the app's code is asked after your directory password")
	alice.get("/user/two-factor").status(200).contains(`id="disable-password"`, "Your directory password")

	alice.post("/user/two-factor/disable", "password", "", "code", code(t, secret, clock)).status(422).contains(`id="disable-password-error"`)
	alice.post("/user/two-factor/disable", "password", "not alice's", "code", code(t, secret, clock)).status(422).contains("This is not your password.")
	alice.post("/user/two-factor/disable", "password", testenv.DirectoryUsers["alice"], "code", code(t, secret, clock)).redirectsTo("/user/security")
}

// TestRequiredSecondFactorIsSetUpHere: a holder of a role of
// MFA_REQUIRED_ROLES is held to the security page until they set up the
// app here; then the rest of the site opens.
func TestRequiredSecondFactorIsSetUpHere(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", map[string]string{"MFA_REQUIRED_ROLES": "admin"})
	admin := s.signedIn("root@example.com", "admin")
	admin.get("/admin").redirectsTo("/user/security")
	admin.get("/user/security").status(200).contains("Your role needs a second factor", "Set up an authenticator app")
	admin.enrol(clock)
	admin.get("/admin").status(200)
	admin.get("/user/security").status(200).lacks("Your role needs a second factor")
}

// TestTwoFactorDisableCodeGuessesShareTheBudget: THE ATTACK. A thief with
// the session and the password guesses codes to turn the app off, from
// many addresses: the account's budget of codes (the sign-in's too) runs
// out after ten, and then the right code waits as well.
func TestTwoFactorDisableCodeGuessesShareTheBudget(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	v := s.signedIn("ada@example.com")
	secret, _ := v.enrol(clock)
	for i := range 10 {
		v.addr = fmt.Sprintf("203.0.113.%d:1234", i+1)
		v.post("/user/two-factor/disable", "password", "password for ada@example.com", "code", fmt.Sprintf("%06d", i)).status(422)
	}
	v.addr = "203.0.113.99:1234"
	v.post("/user/two-factor/disable", "password", "password for ada@example.com", "code", code(t, secret, clock)).status(429).contains("Too many wrong codes")
	v.post("/user/two-factor/recovery-codes", "code", code(t, secret, clock)).status(429)
	if f, _ := s.app.Users.SecondFactors(context.Background(), userID(t, s, "ada@example.com")); !f.TOTP {
		t.Fatal("the app was turned off")
	}
}

// TestTurningTheAppOnFromAStaleSessionNeedsThePassword: THE ATTACK. A
// thief holding only an old session turns the app on with a key of their
// own, and the owner cannot sign in any more. A sign-in older than 10
// minutes must show the password too: without it, or with a wrong one,
// the app stays off; with it, it turns on.
func TestTurningTheAppOnFromAStaleSessionNeedsThePassword(t *testing.T) {
	t.Parallel()
	s, clock := totpSite(t, "", nil)
	v := s.signedIn("ada@example.com")
	clock.advance(11 * time.Minute)
	secret := v.setupKey()
	v.get("/user/two-factor").status(200).contains(`id="totp-password"`)
	v.post("/user/two-factor", "code", code(t, secret, clock)).status(422).contains("Enter your password")
	v.post("/user/two-factor", "code", code(t, secret, clock), "password", "not the password").status(422).contains("This is not your password")
	if f, _ := s.app.Users.SecondFactors(context.Background(), userID(t, s, "ada@example.com")); f.TOTP {
		t.Fatal("the app was turned on from a stale session without the password")
	}
	clock.advance(30 * time.Second)
	v.post("/user/two-factor", "code", code(t, secret, clock), "password", "password for ada@example.com").status(200).contains(`id="recovery-codes"`)

	// Just signed in: no password asked.
	fresh := s.signedIn("grace@example.com")
	fresh.get("/user/two-factor").status(200).lacks(`id="totp-password"`)
}
