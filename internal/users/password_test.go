package users_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// TestDefaultParamsAreOWASPs: new hashes use OWASP's argon2id setting with
// the least memory of its recommended set that still takes two passes:
// m=19 MiB, t=2, p=1.
func TestDefaultParamsAreOWASPs(t *testing.T) {
	s := users.NewService(testenv.MigratedDB(t, testenv.SQLiteURL(t)))
	want := argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if *s.Params != want {
		t.Errorf("NewService params = %+v, want %+v", *s.Params, want)
	}
	if *users.DefaultParams != want {
		t.Errorf("DefaultParams = %+v, want %+v", *users.DefaultParams, want)
	}
}

// storedHash is the password hash of email as the database holds it.
func storedHash(t *testing.T, d *db.DB, email string) string {
	t.Helper()
	var h string
	if err := d.Gorm.Raw("SELECT password_hash FROM users WHERE email = ?", email).Scan(&h).Error; err != nil {
		t.Fatal(err)
	}
	return h
}

// TestOldHashesVerifyAndAreRehashed: a password hashed with other
// parameters (argon2id's own 64 MiB default, which Launchkit used before)
// still signs in, and that sign-in stores a new hash with the current
// parameters; a wrong password changes nothing.
func TestOldHashesVerifyAndAreRehashed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		mustCreate(t, s, "old@example.com")
		old, err := argon2id.CreateHash(password, argon2id.DefaultParams)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Gorm.Exec("UPDATE users SET password_hash = ? WHERE email = ?", old, "old@example.com").Error; err != nil {
			t.Fatal(err)
		}

		if _, err := s.SignIn(ctx, "old@example.com", "wrong password"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatalf("a wrong password: %v", err)
		}
		if h := storedHash(t, d, "old@example.com"); h != old {
			t.Fatal("a failed sign-in changed the stored hash")
		}
		if _, err := s.SignIn(ctx, "old@example.com", password); err != nil {
			t.Fatalf("the old hash no longer verifies: %v", err)
		}
		rehashed := storedHash(t, d, "old@example.com")
		if !strings.HasPrefix(rehashed, "$argon2id$v=19$m=8192,t=1,p=1$") {
			t.Errorf("after sign-in the stored hash is %.32s…, want one with the service's parameters (m=8192,t=1,p=1)", rehashed)
		}
		if _, err := s.SignIn(ctx, "old@example.com", password); err != nil {
			t.Fatalf("the new hash does not verify: %v", err)
		}
		if h := storedHash(t, d, "old@example.com"); h != rehashed {
			t.Error("a hash with the current parameters was replaced again")
		}
	})
}

// watchHashing follows s's hashing until the returned peak is called,
// which reports the most hashes seen running and waiting at once.
func watchHashing(s *users.Service) (peak func() (running, waiting int)) {
	var running, waiting int
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			st := s.HashStats()
			running, waiting = max(running, st.Running), max(waiting, st.Waiting)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		return running, waiting
	}
}

// TestHashingIsBounded: however many sign-ins arrive at once, at most
// MaxConcurrentHashes hashes run (each holds Params.Memory); the rest
// wait their turn, and a caller that gives up stops waiting.
func TestHashingIsBounded(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	s := users.NewService(d)
	// Slow enough (a few ms a hash) for the queue to be seen.
	s.Params = &argon2id.Params{Memory: 4 * 1024, Iterations: 6, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	s.MaxConcurrentHashes = 2
	mustCreate(t, s, "ada@example.com")

	peak := watchHashing(s)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := password
			if i%2 == 1 {
				pw = "a wrong password"
			}
			_, err := s.SignIn(t.Context(), "ada@example.com", pw)
			if i%2 == 1 && errors.Is(err, users.ErrInvalidCredentials) {
				err = nil
			}
			errs <- err
		}()
	}
	wg.Wait()
	peakRunning, peakWaiting := peak()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if peakRunning > 2 {
		t.Errorf("%d hashes ran at once, want at most 2", peakRunning)
	}
	if peakWaiting == 0 {
		t.Error("20 concurrent sign-ins never queued")
	}
	if st := s.HashStats(); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("after the burst: %+v, want nothing running or waiting", st)
	}

	// A password stored with twice the memory takes the room of two: its
	// checks run one at a time.
	big, err := argon2id.CreateHash(password, &argon2id.Params{Memory: 8 * 1024, Iterations: 6, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "big@example.com")
	if err := d.Gorm.Exec("UPDATE users SET password_hash = ? WHERE email = ?", big, "big@example.com").Error; err != nil {
		t.Fatal(err)
	}
	peak = watchHashing(s)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.SignIn(t.Context(), "big@example.com", "a wrong password"); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if peakRunning, _ = peak(); peakRunning != 1 {
		t.Errorf("checks of a password stored with twice the memory ran %d at once, want 1", peakRunning)
	}

	// A sign-in whose request ends while it waits for a turn gives up.
	s2 := users.NewService(d)
	s2.Params = &argon2id.Params{Memory: 4 * 1024, Iterations: 200, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	s2.MaxConcurrentHashes = 1
	mustCreate(t, s2, "slow@example.com") // its hash takes long to check
	hold := make(chan struct{})
	go func() { _, _ = s2.SignIn(context.Background(), "slow@example.com", password); close(hold) }()
	for s2.HashStats().Running == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := s2.SignIn(ctx, "slow@example.com", password); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a sign-in whose request timed out while waiting: %v, want context.DeadlineExceeded", err)
	}
	if s2.HashStats().Running != 1 {
		t.Error("the waiting sign-in gave up only after the running hash finished")
	}
	<-hold
}

// TestPasswordPolicy: NIST SP 800-63B's rules, each refusal with a reason
// a person can act on: at least 8 characters (counted as characters, not
// bytes), not only white space, not one of the most common passwords, not
// the account's own address nor the site's name, and not easy to guess by
// zxcvbn's estimate (with the address and the site's name as words it
// knows); long passphrases and any character welcome.
func TestPasswordPolicy(t *testing.T) {
	for _, tt := range []struct {
		password, email string
		reason          string // "" for allowed
	}{
		{"password", "", "most common"},
		{"12345678", "", "most common"},
		{"PassWord", "", "most common"},
		{"iloveyou", "", "most common"},
		{"        ", "", "white space"},
		{" \t\n  \u3000  ", "", "white space"},
		{"short", "", "at least 8"},
		{"ééééééé", "", "at least 8"}, // 14 bytes, 7 characters
		{strings.Repeat("x", 257), "", "at most"},
		{"ada@example.com", "ada@example.com", "email address"},
		{"ADA@Example.com", "ada@example.com", "email address"},
		{"lovelace", "lovelace@example.com", "email address"},
		// Long enough, common enough to refuse, but easy to guess: the
		// issue's four examples and their kin, each with a hint.
		{"aaaaaaaa", "", "too easy to guess: repeated characters"},
		{"abcdefgh", "", "too easy to guess: sequences"},
		{"12341234", "", "too easy to guess: repeated characters"},
		{"asdfghjkl;'", "", "too easy to guess: keyboard patterns"},
		{"éééééééé", "", "too easy to guess"}, // 8 characters: long enough
		{"Launchkit2024", "", "too easy to guess: it is built on the site's name"},
		{"lovelace1815", "ada.lovelace@example.com", "too easy to guess: it is built on your email address"},
		{"example.com!", "ada@example.com", "too easy to guess: it is built on your email address"},
		{"Xk9#mQ2p", "", "too easy to guess: it is short, and short passwords can be tried one by one. Make it longer"}, // random, but 8 characters are few
		// The address's words run together are as known as each word.
		{"alicesmith99", "alice.smith@example.com", "too easy to guess: it is built on your email address or name. Leave your address and name out"},
		{"AliceSmith2024", "alice.smith@example.com", "too easy to guess: it is built on your email address or name"},
		// Only the first 64 bytes are read: what follows a weak start
		// does not save it.
		{strings.Repeat("a", 64) + " correct horse battery staple", "", "too easy to guess"},
		{"not valid \xff UTF-8 at all", "", "not valid UTF-8"},

		{"correct horse battery staple", "ada@example.com", ""},
		{"  leading and trailing spaces  ", "", ""},
		{"ünïcödé pässwörd", "", ""},
		{"plum river otter 42", "", ""},
		{"Tr0ub4dor&3", "", ""},
		{"kettle harbour violin", "ada@example.com", ""},
		{"Xk9#mQ2pL", "", ""}, // random and 9 characters
		{strings.Repeat("quiet kettle harbour violin plum river otter ", 6)[:256], "", ""},
		{strings.Repeat("4@8(6310!|7+5$2%", 16), "", ""}, // l33t characters, which cost zxcvbn most
	} {
		wantPasswordProblem(t, tt.password, tt.email, "Launchkit", tt.reason)
	}
	// The site's name, in any case.
	for _, tt := range []struct{ password, app string }{
		{"launchkit", "Launchkit"},
		{"Acme Widgets", "Acme Widgets"},
		{"ACME WIDGETS", "Acme Widgets"},
	} {
		wantPasswordProblem(t, tt.password, "ada@example.com", tt.app, "the site's name")
	}
}

// wantPasswordProblem checks CheckPassword(password, email, app): allowed
// when reason is "", else refused with a PasswordProblem whose reason
// says so.
func wantPasswordProblem(t *testing.T, password, email, app, reason string) {
	t.Helper()
	err := users.CheckPassword(password, email, app)
	if reason == "" {
		if err != nil {
			t.Errorf("CheckPassword(%q, %q, %q) = %v, want allowed", password, email, app, err)
		}
		return
	}
	var problem *users.PasswordProblem
	if !errors.Is(err, users.ErrInvalidPassword) || !errors.As(err, &problem) || !strings.Contains(problem.Reason, reason) {
		t.Errorf("CheckPassword(%q, %q, %q) = %v, want a PasswordProblem about %q", password, email, app, err, reason)
	}
}

// TestEveryWayToSetAPasswordHasThePolicy: sign-up, an operator's reset,
// a change and a reset link all refuse a common password.
func TestEveryWayToSetAPasswordHasThePolicy(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		if _, err := s.Create(ctx, "new@example.com", "password"); !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("Create: %v", err)
		}
		ada := mustCreate(t, s, "ada@example.com")
		if err := s.SetPassword(ctx, "ada@example.com", "12345678"); !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("SetPassword: %v", err)
		}
		if _, err := s.ChangePassword(ctx, ada.ID, password, "ada@example.com"); !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("ChangePassword to the address: %v", err)
		}
		raw, err := s.IssueToken(ctx, ada.ID, users.PurposeResetPassword, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ResetPassword(ctx, raw, "qwertyuiop"); !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("ResetPassword: %v", err)
		}
		if _, err := s.SignIn(ctx, "ada@example.com", password); err != nil {
			t.Errorf("a refused password replaced the old one: %v", err)
		}
		// The service refuses its site's name (APP_NAME) too.
		s.AppName = "Acme Widgets"
		if _, err := s.Create(ctx, "grace@example.com", "acme widgets"); !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("Create with the site's name: %v", err)
		}
		if err := s.CheckPassword("ACME WIDGETS", "grace@example.com"); !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("Service.CheckPassword with the site's name: %v", err)
		}
	})
}

// TestABigHashCollectsTheLastOnesMemoryFirst: a hash of production size
// that starts after another finished runs a garbage collection first, so
// it reuses the dead hash's memory instead of growing the heap (what
// keeps a burst of sign-ins near MaxConcurrentHashes hashes' worth; make
// bench measures that).
func TestABigHashCollectsTheLastOnesMemoryFirst(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	s := users.NewService(d)
	s.Params = &argon2id.Params{Memory: 16 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	mustCreate(t, s, "ada@example.com") // one hash, finished

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.SignIn(t.Context(), "ada@example.com", password); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if after.NumForcedGC == before.NumForcedGC {
		t.Error("the second hash ran without collecting the first one's memory")
	}
}

// FuzzCheckPassword: any password, address and site name get an answer,
// never a panic, and a password allowed keeps the length rules.
func FuzzCheckPassword(f *testing.F) {
	for _, seed := range [][3]string{
		{"correct horse battery staple", "ada@example.com", "Launchkit"},
		{"aaaaaaaa", "", ""},
		{strings.Repeat("é€ø™", 70), "@", "  "},
		{strings.Repeat("4@8(6310!|7+5$2%", 4) + "\xff", "a.b+c@d.e", "Acme Widgets"},
		{"Launchkit-1999-12-31", "launchkit@launchkit.dev", "Launchkit"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, password, email, app string) {
		err := users.CheckPassword(password, email, app)
		if err == nil && (!utf8.ValidString(password) || utf8.RuneCountInString(password) < users.MinPasswordLen || len(password) > users.MaxPasswordLen) {
			t.Errorf("CheckPassword(%q, %q, %q) allowed a password outside the length rules", password, email, app)
		}
		if err != nil && !errors.Is(err, users.ErrInvalidPassword) {
			t.Errorf("CheckPassword(%q, %q, %q) = %v, want a PasswordProblem", password, email, app, err)
		}
	})
}
