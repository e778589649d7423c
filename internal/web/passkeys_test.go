package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/pquerna/otp/totp"

	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
	"github.com/launchkit/launchkit/internal/web"
)

// siteOrigin is BASE_URL's origin in the tests, and the RP ID its host.
const (
	siteOrigin = "http://localhost:8000"
	siteRPID   = "localhost"
)

// softKey is a software authenticator holding one passkey: an ECDSA
// P-256 key, its credential ID and the user handle it was made for. It
// answers as a platform authenticator that verified its user, at origin.
type softKey struct {
	t          *testing.T
	key        *ecdsa.PrivateKey
	id         []byte
	userHandle []byte
	counter    uint32
	origin     string
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{t: t, key: key, id: id, origin: siteOrigin}
}

var b64 = base64.RawURLEncoding

// postJSON posts body as the page's script does: JSON, same origin,
// asking for JSON back.
func (v *visitor) postJSON(path string, body any) *response {
	v.s.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		v.s.t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(raw)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return v.send(r)
}

// options is what a begin answers: the publicKey options.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		UserVerification       string `json:"userVerification"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
	} `json:"publicKey"`
}

func (k *softKey) begin(v *visitor, path string) options {
	k.t.Helper()
	var o options
	resp := v.postJSON(path, nil)
	if resp.rec.Code != http.StatusOK {
		k.t.Log(v.s.logs.String())
	}
	resp.status(http.StatusOK)
	if err := json.Unmarshal([]byte(resp.body), &o); err != nil || o.PublicKey.Challenge == "" {
		k.t.Fatalf("begin %s: %v\n%s", path, err, resp.body)
	}
	return o
}

func (k *softKey) clientData(kind, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// authData is the authenticator data: the RP ID's hash, the flags (user
// present, user verified, and attested credential data when cred is
// given), the counter.
func (k *softKey) authData(cred []byte) []byte {
	h := sha256.Sum256([]byte(siteRPID))
	flags := byte(0x01 | 0x04)
	if cred != nil {
		flags |= 0x40
	}
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, k.counter)
	return append(out, cred...)
}

// create answers registration options o: a "none" attestation.
func (k *softKey) create(o options) map[string]any {
	k.t.Helper()
	if o.PublicKey.AuthenticatorSelection.ResidentKey != "required" || o.PublicKey.AuthenticatorSelection.UserVerification != "required" {
		k.t.Errorf("registration options do not require a discoverable, user-verified passkey: %+v", o.PublicKey.AuthenticatorSelection)
	}
	uh, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		k.t.Fatal(err)
	}
	k.userHandle = uh
	cose, err := cbor.Marshal(struct {
		Kty int    `cbor:"1,keyasint"`
		Alg int    `cbor:"3,keyasint"`
		Crv int    `cbor:"-1,keyasint"`
		X   []byte `cbor:"-2,keyasint"`
		Y   []byte `cbor:"-3,keyasint"`
	}{2, -7, 1, k.key.X.FillBytes(make([]byte, 32)), k.key.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		k.t.Fatal(err)
	}
	cred := make([]byte, 16) // AAGUID: none
	cred = binary.BigEndian.AppendUint16(cred, uint16(len(k.id)))
	cred = append(append(cred, k.id...), cose...)
	att, err := cbor.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{"none", map[string]any{}, k.authData(cred)})
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(k.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
	}
}

// get answers assertion options o: the counter goes up by one, and the
// signature covers the authenticator data and the client data's hash.
func (k *softKey) get(o options) map[string]any {
	k.t.Helper()
	if o.PublicKey.UserVerification != "required" {
		k.t.Errorf("assertion options do not require user verification: %q", o.PublicKey.UserVerification)
	}
	k.counter++
	cd := k.clientData("webauthn.get", o.PublicKey.Challenge)
	ad := k.authData(nil)
	h := sha256.Sum256(cd)
	signed := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, signed[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(k.userHandle),
		},
	}
}

// register adds the passkey to v's account, named name.
func (k *softKey) register(v *visitor, name string) *response {
	k.t.Helper()
	o := k.begin(v, "/user/passkeys/register/begin")
	resp := v.postJSON("/user/passkeys/register/finish", map[string]any{"name": name, "credential": k.create(o)})
	if resp.rec.Code != http.StatusOK {
		k.t.Log(v.s.logs.String())
	}
	return resp
}

// signIn signs v in with the passkey alone, going to next.
func (k *softKey) signIn(v *visitor, next string) *response {
	k.t.Helper()
	o := k.begin(v, "/user/sign-in/passkey/begin")
	return v.postJSON("/user/sign-in/passkey/finish", map[string]any{"next": next, "credential": k.get(o)})
}

// secondStep completes v's pending sign-in with the passkey.
func (k *softKey) secondStep(v *visitor) *response {
	k.t.Helper()
	o := k.begin(v, "/user/sign-in/two-factor/passkey/begin")
	return v.postJSON("/user/sign-in/two-factor/passkey/finish", map[string]any{"credential": k.get(o)})
}

func (r *response) redirectJSON(want string) *response {
	r.t.Helper()
	r.status(http.StatusOK)
	var body struct {
		Redirect string `json:"redirect"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Redirect != want {
		r.t.Fatalf("answer = %s, want redirect to %s", r.body, want)
	}
	return r
}

// signedInAs checks that v's session is email's.
func (v *visitor) isSignedInAs(email string) {
	v.s.t.Helper()
	v.get("/user/profile").status(http.StatusOK).contains(email)
}

// passkeys lists email's passkeys.
func (s *site) passkeys(email string) []users.Passkey {
	s.t.Helper()
	u, err := s.app.Users.ByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	list, err := s.app.Users.Passkeys(context.Background(), u.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return list
}

// TestPasskeysOnEveryDatabase: a passkey added on the security page signs
// in with no password, and serves as the second step after one, on
// SQLite, PostgreSQL and MariaDB.
func TestPasskeysOnEveryDatabase(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		s := newSite(t, map[string]string{"DATABASE_URL": databaseURL(t)})
		v := s.signedIn("ada@example.com")
		k := newSoftKey(t)
		k.register(v, "Laptop").redirectJSON("/user/security")
		v.get("/user/security").status(http.StatusOK).contains(`id="security-passkeys-title"`, "Laptop", "never", `Passkey “Laptop” added`)
		list := s.passkeys("ada@example.com")
		if len(list) != 1 || list[0].Name != "Laptop" || list[0].CredentialID != b64.EncodeToString(k.id) {
			t.Fatalf("passkeys = %+v", list)
		}
		if e := s.eventsOf(seclog.PasskeyAdded); len(e) != 1 || e[0].Detail != "Laptop" {
			t.Errorf("added events = %+v", e)
		}

		// Signing in with it alone: no address, no password.
		w := s.visitor()
		w.get("/user/sign-in").status(http.StatusOK).contains(`id="passkey-sign-in"`, `autocomplete="username webauthn"`)
		k.signIn(w, "/user/profile").redirectJSON("/user/profile")
		w.isSignedInAs("ada@example.com")
		if e := s.eventsOf(seclog.SignIn); len(e) != 2 || e[1].Method != "passkey" || e[1].Detail != "with passkey" {
			t.Errorf("sign-in events = %+v", e)
		}
		if p := s.passkeys("ada@example.com")[0]; p.SignCount != 1 || p.LastUsedAt == nil {
			t.Errorf("after a sign-in: %+v", p)
		}

		// The password now leads to the second step, which the passkey completes.
		x := s.visitor()
		x.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/user/sign-in/two-factor")
		x.get("/user/sign-in/two-factor").status(http.StatusOK).contains(`id="passkey-second-step"`)
		k.secondStep(x).redirectJSON("/")
		x.isSignedInAs("ada@example.com")
		if e := s.eventsOf(seclog.SignIn); len(e) != 3 || e[2].Method != users.MethodPassword || e[2].Detail != "with passkey" {
			t.Errorf("sign-in events = %+v", e)
		}
	})
}

// TestPasskeyCeremonyGivesVisitorsNoSession: the sign-in page's begin
// (which the autofill calls on load) sets only the ceremony's cookie.
func TestPasskeyCeremonyGivesVisitorsNoSession(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	k := newSoftKey(t)
	k.begin(v, "/user/sign-in/passkey/begin")
	if _, ok := v.cookies["session"]; ok || len(v.cookies) != 1 || v.cookies["session_passkey"] == nil {
		t.Errorf("cookies after begin: %v", v.cookies)
	}
	c := v.cookies["session_passkey"]
	if c.Path != "/user/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("ceremony cookie = %+v", c)
	}
}

// TestPasskeyAttacks: an assertion made for another origin, replayed, or
// too late is refused, as is an authenticator whose counter went
// backwards (recorded); each refusal is a JSON error, never a 500, and
// signs nobody in.
func TestPasskeyAttacks(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, testPasskeyAttacks)
}

func testPasskeyAttacks(t *testing.T, databaseURL func(testing.TB) string) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newSite(t, map[string]string{"DATABASE_URL": databaseURL(t)}, web.WithClock(clock))
	v := s.signedIn("ada@example.com")
	k := newSoftKey(t)
	k.register(v, "").redirectJSON("/user/security")
	if p := s.passkeys("ada@example.com"); len(p) != 1 || p[0].Name != "Passkey" {
		t.Fatalf("passkeys = %+v", p)
	}

	t.Run("wrong origin", func(t *testing.T) {
		w := s.from(1)
		k.origin = "http://localhost.evil.example"
		defer func() { k.origin = siteOrigin }()
		k.signIn(w, "/").wantJSONError(http.StatusBadRequest)
		w.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	})

	t.Run("replayed", func(t *testing.T) {
		w := s.from(2)
		o := k.begin(w, "/user/sign-in/passkey/begin")
		cookie := *w.cookies["session_passkey"]
		answer := map[string]any{"credential": k.get(o)}
		w.postJSON("/user/sign-in/passkey/finish", answer).redirectJSON("/")
		thief := s.from(3)
		thief.cookies["session_passkey"] = &cookie
		thief.postJSON("/user/sign-in/passkey/finish", answer).wantJSONError(http.StatusBadRequest)
		thief.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	})

	t.Run("expired", func(t *testing.T) {
		w := s.from(4)
		o := k.begin(w, "/user/sign-in/passkey/begin")
		mu.Lock()
		now = now.Add(6 * time.Minute)
		mu.Unlock()
		w.postJSON("/user/sign-in/passkey/finish", map[string]any{"credential": k.get(o)}).wantJSONError(http.StatusBadRequest)
		w.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	})

	t.Run("counter went backwards", func(t *testing.T) {
		w := s.from(5)
		k.counter = 10
		k.signIn(w, "/").redirectJSON("/")
		clone := *k
		clone.counter = 3
		x := s.from(6)
		clone.signIn(x, "/").wantJSONError(http.StatusForbidden)
		x.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
		if e := s.eventsOf(seclog.PasskeyRefused); len(e) != 1 || e[0].Method != "passkey" {
			t.Errorf("refused events = %+v", e)
		}
		if p := s.passkeys("ada@example.com")[0]; p.SignCount != 11 {
			t.Errorf("sign count = %d, want 11", p.SignCount)
		}
	})

	t.Run("second step: another account's passkey, a replay", func(t *testing.T) {
		eve := s.signedIn("eve@example.com")
		evesKey := newSoftKey(t)
		evesKey.register(eve, "Eve's").redirectJSON("/user/security")
		x := s.from(7)
		x.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/user/sign-in/two-factor")
		o := k.begin(x, "/user/sign-in/two-factor/passkey/begin")
		if len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != b64.EncodeToString(k.id) {
			t.Errorf("allowed credentials = %+v", o.PublicKey.AllowCredentials)
		}
		cookie := *x.cookies["session_passkey"]
		x.postJSON("/user/sign-in/two-factor/passkey/finish", map[string]any{"credential": evesKey.get(o)}).wantJSONError(http.StatusBadRequest)
		x.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
		o = k.begin(x, "/user/sign-in/two-factor/passkey/begin")
		cookie = *x.cookies["session_passkey"]
		answer := map[string]any{"credential": k.get(o)}
		x.postJSON("/user/sign-in/two-factor/passkey/finish", answer).redirectJSON("/")
		x.cookies["session_passkey"] = &cookie
		// Signed in now, the same answer again finds no ceremony.
		x.postJSON("/user/sign-in/two-factor/passkey/finish", answer).wantJSONError(http.StatusUnauthorized)
		y := s.from(8)
		y.cookies["session_passkey"] = &cookie
		y.postJSON("/user/sign-in/two-factor/passkey/finish", answer).wantJSONError(http.StatusUnauthorized)
	})

	t.Run("garbage", func(t *testing.T) {
		w := s.from(9)
		k.begin(w, "/user/sign-in/passkey/begin")
		w.postJSON("/user/sign-in/passkey/finish", map[string]any{"credential": map[string]any{"id": "x", "type": "public-key"}}).wantJSONError(http.StatusBadRequest)
		w.postJSON("/user/sign-in/passkey/finish", map[string]any{}).wantJSONError(http.StatusBadRequest)
	})
}

// TestRemovingAPasskey: another user's passkey is a 404; removing one
// needs the password, and with an authenticator app a code too; an
// account without a password needs a recent sign-in.
func TestRemovingAPasskey(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newSite(t, nil, web.WithClock(clock))
	v := s.signedIn("ada@example.com")
	k := newSoftKey(t)
	k.register(v, "Laptop").redirectJSON("/user/security")
	id := s.passkeys("ada@example.com")[0].ID
	path := "/user/passkeys/" + itoa(id) + "/delete"

	s.signedIn("eve@example.com").post(path, "password", "password for eve@example.com").status(http.StatusNotFound)

	v.post(path).status(http.StatusUnprocessableEntity).contains("This is not your password.")
	v.post(path, "password", "wrong").status(http.StatusUnprocessableEntity).contains("This is not your password.")
	if len(s.passkeys("ada@example.com")) != 1 {
		t.Fatal("a passkey was removed without the password")
	}
	v.post(path, "password", "password for ada@example.com").redirectsTo("/user/security")
	v.get("/user/security").status(http.StatusOK).contains(`Passkey “Laptop” removed.`, "You have no passkey yet.")
	if len(s.passkeys("ada@example.com")) != 0 {
		t.Fatal("the passkey is still there")
	}
	if e := s.eventsOf(seclog.PasskeyRemoved); len(e) != 1 || e[0].Detail != "Laptop" {
		t.Errorf("removed events = %+v", e)
	}

	// Without a password: a sign-in within the last 10 minutes.
	k.register(v, "Phone").redirectJSON("/user/security")
	if err := s.app.DB.Gorm.Exec("UPDATE users SET password_hash = '' WHERE email = ?", "ada@example.com").Error; err != nil {
		t.Fatal(err)
	}
	path = "/user/passkeys/" + itoa(s.passkeys("ada@example.com")[0].ID) + "/delete"
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	v.post(path).status(http.StatusUnprocessableEntity).contains("removing a passkey needs a recent sign-in")
	w := s.visitor()
	k.signIn(w, "/").redirectJSON("/")
	w.post(path).redirectsTo("/user/security")
	if len(s.passkeys("ada@example.com")) != 0 {
		t.Fatal("the passkey is still there")
	}
}

func TestRemovingAPasskeyNeedsTheAuthenticatorCode(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.signedIn("ada@example.com")
	k := newSoftKey(t)
	k.register(v, "Laptop").redirectJSON("/user/security")
	u, err := s.app.Users.ByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.app.Users.NewTOTPKey(u, "Launchkit")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	if _, err := s.app.Users.EnableTOTP(t.Context(), u.ID, key.Secret(), code); err != nil {
		t.Fatal(err)
	}
	path := "/user/passkeys/" + itoa(s.passkeys("ada@example.com")[0].ID) + "/delete"
	v.get("/user/security").status(http.StatusOK).contains(`name="code"`)
	v.post(path, "password", "password for ada@example.com").status(http.StatusUnprocessableEntity).contains("This code is not right")
	v.post(path, "password", "password for ada@example.com", "code", code).status(http.StatusUnprocessableEntity).contains("This code is not right")
	if len(s.passkeys("ada@example.com")) != 1 {
		t.Fatal("a passkey was removed without a code")
	}
	next, _ := totp.GenerateCode(key.Secret(), time.Now().Add(30*time.Second))
	v.post(path, "password", "password for ada@example.com", "code", next).redirectsTo("/user/security")
	if len(s.passkeys("ada@example.com")) != 0 {
		t.Fatal("the passkey is still there")
	}
}

// TestAPasskeyMeetsMFARequiredRoles: an admin whom MFA_REQUIRED_ROLES
// holds to the security page can add a passkey there, and is then free.
func TestAPasskeyMeetsMFARequiredRoles(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"})
	v := s.signedIn("root@example.com", users.RoleAdmin)
	v.get("/admin/").redirectsTo("/user/security")
	v.get("/user/security").status(http.StatusOK).contains(`id="passkey-add"`)
	k := newSoftKey(t)
	k.register(v, "Key").redirectJSON("/user/security")
	v.get("/admin/").status(http.StatusOK)
}

// TestADeactivatedAccountCannotSignInWithAPasskey: the passkey checks
// out, the account does not.
func TestADeactivatedAccountCannotSignInWithAPasskey(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.signedIn("ada@example.com")
	k := newSoftKey(t)
	k.register(v, "Laptop").redirectJSON("/user/security")
	if err := s.app.DB.Gorm.Exec("UPDATE users SET active = ? WHERE email = ?", false, "ada@example.com").Error; err != nil {
		t.Fatal(err)
	}
	w := s.visitor()
	k.signIn(w, "/").wantJSONError(http.StatusForbidden)
	w.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
}

// TestAddingAPasskeyNeedsARecentSignIn: a passkey signs in alone, so a
// session signed in more than 10 minutes ago (perhaps a stolen one) adds
// none, at the begin or at the finish; a fresh sign-in does.
func TestAddingAPasskeyNeedsARecentSignIn(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newSite(t, nil, web.WithClock(clock))
	v := s.signedIn("ada@example.com")
	k := newSoftKey(t)

	advance(9 * time.Minute)
	o := k.begin(v, "/user/passkeys/register/begin")
	advance(2 * time.Minute)
	v.postJSON("/user/passkeys/register/finish", map[string]any{"name": "Thief", "credential": k.create(o)}).wantJSONError(http.StatusForbidden)
	v.postJSON("/user/passkeys/register/begin", nil).wantJSONError(http.StatusForbidden)
	if p := s.passkeys("ada@example.com"); len(p) != 0 {
		t.Fatalf("a stale session added %+v", p)
	}

	w := s.visitor()
	w.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/")
	k.register(w, "Laptop").redirectJSON("/user/security")
	if p := s.passkeys("ada@example.com"); len(p) != 1 {
		t.Fatalf("passkeys = %+v", p)
	}
}

// TestRemovingAPasskeyCodeGuessesShareTheBudget: the code removing a
// passkey asks for spends the account's budget of second factors, from
// any address: a thief with the session and the password cannot guess
// codes here without end.
func TestRemovingAPasskeyCodeGuessesShareTheBudget(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.signedIn("ada@example.com")
	k := newSoftKey(t)
	k.register(v, "Laptop").redirectJSON("/user/security")
	u, err := s.app.Users.ByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.app.Users.NewTOTPKey(u, "Launchkit")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), time.Now().Add(-30*time.Second))
	if _, err := s.app.Users.EnableTOTP(t.Context(), u.ID, key.Secret(), code); err != nil {
		t.Fatal(err)
	}
	path := "/user/passkeys/" + itoa(s.passkeys("ada@example.com")[0].ID) + "/delete"
	for i := range 10 {
		v.addr = "203.0.113." + itoa(uint(i+1)) + ":1234"
		v.post(path, "password", "password for ada@example.com", "code", "00000"+itoa(uint(i))).status(http.StatusUnprocessableEntity)
	}
	v.addr = "203.0.113.99:1234"
	now, _ := totp.GenerateCode(key.Secret(), time.Now())
	v.post(path, "password", "password for ada@example.com", "code", now).status(http.StatusTooManyRequests).contains("Too many wrong codes")
	if len(s.passkeys("ada@example.com")) != 1 {
		t.Fatal("the passkey was removed after the budget was spent")
	}
}

// TestSigningOutEverywhereIsNoFreshSignIn: an admin signing their own
// account out everywhere (no password asked) goes on signed in here, but
// that is no new sign-in: a stale, perhaps stolen, session does not
// become one that may add a passkey.
func TestSigningOutEverywhereIsNoFreshSignIn(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newSite(t, nil, web.WithClock(clock))
	v := s.signedIn("root@example.com", users.RoleAdmin)
	u, err := s.app.Users.ByEmail(t.Context(), "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	v.post("/admin/users/" + itoa(u.ID) + "/sign-out").redirectsTo("/admin/users")
	v.postJSON("/user/passkeys/register/begin", nil).wantJSONError(http.StatusForbidden)
}
