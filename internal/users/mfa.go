// Second factors: codes from an authenticator app (TOTP, RFC 6238, with
// github.com/pquerna/otp) and the recovery codes that stand in for it,
// tables user_totp and recovery_codes (migration 00013). Passkeys, the
// other second factor, are in passkeys.go.
//
// A sign-in of an account with a second factor is two steps: the password
// (SignIn, SignInForAPI: they return the user with SecondFactor set and
// record nothing yet), then CompleteSignIn with a code, which records the
// sign-in, or the failed code. The web layer keeps the half-signed-in
// state between them and spends the guessing budgets.

package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/seclog"
)

// TOTP parameters: what every authenticator app reads from an otpauth://
// URI (6 digits, every 30 seconds, HMAC-SHA1), a 160-bit key (RFC 4226's
// recommendation), and one step of clock drift either way.
const (
	totpPeriod    = 30
	totpDigits    = otp.DigitsSix
	totpSkew      = 1
	totpKeyBytes  = 20
	totpAlgorithm = otp.AlgorithmSHA1
)

// RecoveryCodeCount is how many recovery codes an account gets at a time.
const RecoveryCodeCount = 10

// recoveryCodeLen is the length of a recovery code without its hyphen:
// ten base32 characters, 50 random bits.
const recoveryCodeLen = 10

// The ways CompleteSignIn accepted a second factor: the security event's
// detail and what the web layer tells the user.
const (
	FactorTOTP         = "authenticator app"
	FactorRecoveryCode = "recovery code"
	FactorPasskey      = "passkey"
)

// Second factors.
var (
	// ErrWrongCode: the code is not the account's current authenticator
	// code nor one of its unused recovery codes, or the authenticator code
	// was already used.
	ErrWrongCode = errors.New("the code is not right")
	// ErrNoSecondFactor: the account has no authenticator app to check a
	// code against, or to turn off.
	ErrNoSecondFactor = errors.New("the account has no authenticator app")
	// ErrTOTPEnabled: the account already has an authenticator app; turn
	// it off first to set up another.
	ErrTOTPEnabled = errors.New("the account already has an authenticator app")
	// ErrSecondFactorRequired: the account's role needs a second factor
	// (Service.RequiredRoles) it has not set up, so the API gives it no key.
	ErrSecondFactorRequired = errors.New("the account's role needs a second factor it has not set up")
	// ErrNoSecrets: the service has no Secrets to seal authenticator keys
	// with.
	ErrNoSecrets = errors.New("no key to encrypt authenticator keys with")
	// ErrUnreadableKey: the account's authenticator key was sealed under a
	// SECRET_KEY that is no longer the key or a fallback.
	ErrUnreadableKey = errors.New("the authenticator key cannot be decrypted with SECRET_KEY or its fallbacks")
)

// totpRow is a row of user_totp.
type totpRow struct {
	UserID    uint `gorm:"primaryKey;autoIncrement:false"`
	Secret    []byte
	LastStep  int64
	CreatedAt time.Time
}

func (totpRow) TableName() string { return "user_totp" }

// recoveryCode is a row of recovery_codes.
type recoveryCode struct {
	ID        uint
	UserID    uint
	CodeHash  string
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (recoveryCode) TableName() string { return "recovery_codes" }

// SecondFactors is what an account has to prove itself after its
// password.
type SecondFactors struct {
	// TOTP is whether an authenticator app is set up, since TOTPSince.
	TOTP      bool
	TOTPSince time.Time
	// RecoveryCodesLeft is how many unused recovery codes the account has.
	RecoveryCodesLeft int
	// Passkeys is how many passkeys the account has.
	Passkeys int
}

// Any reports whether the account has a second factor.
func (f SecondFactors) Any() bool { return f.TOTP || f.Passkeys > 0 }

// now is the service's clock (Service.Now, else the time).
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SecondFactors returns what second factors the user id has.
func (s *Service) SecondFactors(ctx context.Context, id uint) (SecondFactors, error) {
	var f SecondFactors
	g := s.db.WithContext(ctx)
	var row totpRow
	switch err := g.Where("user_id = ?", id).Take(&row).Error; {
	case err == nil:
		f.TOTP, f.TOTPSince = true, row.CreatedAt
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return f, fmt.Errorf("second factors of user %d: %w", id, err)
	}
	var left, passkeys int64
	if err := g.Model(&recoveryCode{}).Where("user_id = ? AND used_at IS NULL", id).Count(&left).Error; err != nil {
		return f, fmt.Errorf("second factors of user %d: %w", id, err)
	}
	if err := g.Model(&Passkey{}).Where("user_id = ?", id).Count(&passkeys).Error; err != nil {
		return f, fmt.Errorf("second factors of user %d: %w", id, err)
	}
	f.RecoveryCodesLeft, f.Passkeys = int(left), int(passkeys)
	return f, nil
}

// HasSecondFactor reports whether user id has a second factor.
func (s *Service) HasSecondFactor(ctx context.Context, id uint) (bool, error) {
	return hasSecondFactor(s.db.WithContext(ctx), id)
}

// hasSecondFactor reports whether user id has a second factor, through g.
func hasSecondFactor(g *gorm.DB, id uint) (bool, error) {
	var n int64
	err := g.Raw("SELECT (SELECT COUNT(*) FROM user_totp WHERE user_id = ?) + (SELECT COUNT(*) FROM passkeys WHERE user_id = ?)", id, id).Scan(&n).Error
	return n > 0, err
}

// WithSecondFactor returns which of users ids have a second factor, in
// one query: for a page of a list of accounts.
func (s *Service) WithSecondFactor(ctx context.Context, ids []uint) (map[uint]bool, error) {
	out := make(map[uint]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var have []uint
	err := s.db.WithContext(ctx).
		Raw("SELECT user_id FROM user_totp WHERE user_id IN ? UNION SELECT user_id FROM passkeys WHERE user_id IN ?", ids, ids).
		Scan(&have).Error
	if err != nil {
		return nil, fmt.Errorf("second factors of %d users: %w", len(ids), err)
	}
	for _, id := range have {
		out[id] = true
	}
	return out, nil
}

// NewTOTPKey makes a new authenticator key for u, not yet stored: the
// enrolment page shows it (its URL() is the otpauth:// URI, Secret() the
// key as text) and EnableTOTP stores it once the app has shown it can
// make codes from it. issuer is the site's name (APP_NAME).
func (s *Service) NewTOTPKey(u *User, issuer string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: u.Email,
		Period: totpPeriod, Digits: totpDigits, Algorithm: totpAlgorithm, SecretSize: totpKeyBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("new authenticator key: %w", err)
	}
	return k, nil
}

// ValidTOTPSecret reports whether secret is a key NewTOTPKey could have
// made: base32 without padding, totpKeyBytes long.
func ValidTOTPSecret(secret string) bool {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	return err == nil && len(b) == totpKeyBytes
}

// totpStep is the TOTP time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpCodeAt is the code of secret for time step step.
func totpCodeAt(secret string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
		Period: totpPeriod, Digits: totpDigits, Algorithm: totpAlgorithm,
	})
}

// matchTOTP returns the time step within the allowed drift of now at
// which code is secret's code, after lastStep (a code is good once), or
// 0 when there is none. Each step is compared in constant time.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, error) {
	if !isTOTPCode(code) {
		return 0, nil
	}
	var found int64
	cur := totpStep(now)
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totpCodeAt(secret, step)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && found == 0 {
			found = step
		}
	}
	return found, nil
}

// isTOTPCode reports whether code looks like an authenticator code: six
// digits.
func isTOTPCode(code string) bool {
	if len(code) != int(totpDigits) {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// NormalizeCode strips what people type around a code: spaces, hyphens,
// and case (recovery codes are lower-case).
func NormalizeCode(code string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(code) {
		if c != ' ' && c != '-' && c != '\t' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// totpAD binds a sealed key to its user: a key moved to another row does
// not open.
func totpAD(id uint) []byte { return []byte("user_totp\x00" + strconv.FormatUint(uint64(id), 10)) }

// EnableTOTP turns on the authenticator app with key secret for user id,
// once code shows the app makes its codes: the key is stored sealed
// (Secrets), the code counts as used, and a new set of recovery codes
// replaces any old one. It returns the recovery codes, shown once.
func (s *Service) EnableTOTP(ctx context.Context, id uint, secret, code string) ([]string, error) {
	if s.Secrets == nil {
		return nil, ErrNoSecrets
	}
	if !ValidTOTPSecret(secret) {
		return nil, ErrWrongCode
	}
	step, err := matchTOTP(secret, NormalizeCode(code), s.now(), 0)
	if err != nil {
		return nil, fmt.Errorf("enable authenticator: %w", err)
	}
	if step == 0 {
		return nil, ErrWrongCode
	}
	var codes []string
	err = s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		row := totpRow{UserID: id, Secret: s.Secrets.Seal([]byte(secret), totpAD(id)), LastStep: step, CreatedAt: db.Now()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrTOTPEnabled
		}
		var err error
		if codes, err = replaceRecoveryCodes(tx, id); err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.TwoFactorEnabled})
	})
	if err != nil {
		return nil, fmt.Errorf("enable authenticator for user %d: %w", id, err)
	}
	return codes, nil
}

// replaceRecoveryCodes deletes user id's recovery codes and makes
// RecoveryCodeCount new ones, returned as shown to people ("abcde-fghij").
func replaceRecoveryCodes(tx *gorm.DB, id uint) ([]string, error) {
	if err := tx.Where("user_id = ?", id).Delete(&recoveryCode{}).Error; err != nil {
		return nil, err
	}
	now := db.Now()
	codes := make([]string, RecoveryCodeCount)
	rows := make([]recoveryCode, RecoveryCodeCount)
	for i := range codes {
		raw := newRecoveryCode()
		codes[i] = raw[:recoveryCodeLen/2] + "-" + raw[recoveryCodeLen/2:]
		rows[i] = recoveryCode{UserID: id, CodeHash: hashRecoveryCode(raw), CreatedAt: now}
	}
	return codes, tx.Create(&rows).Error
}

// newRecoveryCode returns recoveryCodeLen random lower-case base32
// characters.
func newRecoveryCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))[:recoveryCodeLen]
}

// hashRecoveryCode is the stored form of a normalized recovery code.
func hashRecoveryCode(code string) string {
	sum := sha256.Sum256([]byte("launchkit recovery code\x00" + code))
	return hex.EncodeToString(sum[:])
}

// RegenerateRecoveryCodes replaces user id's recovery codes with new ones
// (the old ones stop working) and returns them, shown once. The account
// must have an authenticator app.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, id uint) ([]string, error) {
	var codes []string
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&totpRow{}).Where("user_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNoSecondFactor
		}
		var err error
		if codes, err = replaceRecoveryCodes(tx, id); err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.RecoveryCodesRegenerated})
	})
	if err != nil {
		return nil, fmt.Errorf("new recovery codes for user %d: %w", id, err)
	}
	return codes, nil
}

// VerifyTOTP checks that code is a current code of user id's
// authenticator app, not used before, and uses it up: for a change a
// signed-in user makes that must prove they hold the app, not only the
// session (new recovery codes), where spending a recovery code would
// defeat the point. Anything but six digits is ErrWrongCode, recorded
// as a failed second factor.
func (s *Service) VerifyTOTP(ctx context.Context, id uint, code string) error {
	code = NormalizeCode(code)
	err := ErrWrongCode
	if isTOTPCode(code) {
		_, err = s.checkCode(s.db.WithContext(ctx), id, code)
	}
	if errors.Is(err, ErrWrongCode) {
		if rerr := s.Events.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.TwoFactorFailed, Detail: "making new recovery codes"}); rerr != nil {
			return rerr
		}
		return ErrWrongCode
	}
	if err != nil {
		return fmt.Errorf("check the authenticator code of user %d: %w", id, err)
	}
	return nil
}

// checkCode uses up code for user id, through g: an authenticator code
// (six digits) not used before, or an unused recovery code. It returns
// FactorTOTP or FactorRecoveryCode, or ErrWrongCode. Two requests with
// the same code cannot both pass: each use is a conditional update.
func (s *Service) checkCode(g *gorm.DB, id uint, code string) (string, error) {
	code = NormalizeCode(code)
	if isTOTPCode(code) {
		var row totpRow
		if err := g.Where("user_id = ?", id).Take(&row).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return "", ErrWrongCode
		} else if err != nil {
			return "", err
		}
		if s.Secrets == nil {
			return "", ErrNoSecrets
		}
		secret, current, err := s.Secrets.Open(row.Secret, totpAD(id))
		if errors.Is(err, keyring.ErrCannotOpen) {
			return "", ErrUnreadableKey
		}
		step, err := matchTOTP(string(secret), code, s.now(), row.LastStep)
		if err != nil || step == 0 {
			return "", errors.Join(ErrWrongCode, err)
		}
		changes := map[string]any{"last_step": step}
		if !current {
			// Sealed under a fallback key: seal it again under the current one.
			changes["secret"] = s.Secrets.Seal(secret, totpAD(id))
		}
		res := g.Model(&totpRow{}).Where("user_id = ? AND last_step < ?", id, step).Updates(changes)
		if res.Error != nil {
			return "", res.Error
		}
		if res.RowsAffected == 0 {
			return "", ErrWrongCode // a request with this code (or a later one) came first
		}
		return FactorTOTP, nil
	}
	if len(code) != recoveryCodeLen {
		return "", ErrWrongCode
	}
	res := g.Model(&recoveryCode{}).
		Where("user_id = ? AND code_hash = ? AND used_at IS NULL", id, hashRecoveryCode(code)).
		Update("used_at", db.Now())
	if res.Error != nil {
		return "", res.Error
	}
	if res.RowsAffected == 0 {
		return "", ErrWrongCode
	}
	return FactorRecoveryCode, nil
}

// CompleteSignIn finishes the sign-in of u, whose password (or directory
// bind, or provider) SignIn accepted and who has a second factor, with
// code: an authenticator code or a recovery code. It records the sign-in
// (method u.SignInMethod, or method when given; the detail says which
// factor), or the wrong code, in the security log, and returns the factor.
func (s *Service) CompleteSignIn(ctx context.Context, u *User, method, code string) (string, error) {
	if method == "" {
		method = u.SignInMethod
	}
	var how string
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		how, err = s.checkCode(tx, u.ID, code)
		if err != nil {
			return err
		}
		if how == FactorRecoveryCode {
			if err := s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.RecoveryCodeUsed, Method: method}); err != nil {
				return err
			}
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.SignIn, Method: method, Detail: "with " + how})
	})
	if errors.Is(err, ErrWrongCode) {
		if rerr := s.Events.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.TwoFactorFailed, Method: method}); rerr != nil {
			return "", fmt.Errorf("second step of sign-in: %w", rerr)
		}
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("second step of sign-in for user %d: %w", u.ID, err)
	}
	return how, nil
}

// RecordSignIn records in the security log that u signed in by method
// after a second factor checked elsewhere (a passkey, or an OpenID
// Connect provider's own), described by how.
func (s *Service) RecordSignIn(ctx context.Context, u *User, method, how string) error {
	return s.Events.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.SignIn, Method: method, Detail: "with " + how})
}

// DisableTOTP turns off user id's authenticator app and deletes its
// recovery codes. It needs the account's password (the directory's for a
// directory account; none for an account made by a provider, which has
// none: the web layer asks for a recent sign-in instead) and a
// current code from the app or a recovery code, so a stolen session
// alone cannot remove the second factor. Like a password change it ends
// the user's other sessions: it returns the user with the new session key,
// for the caller's own session to carry. sessionKey is the caller's
// session's key: a session ended meanwhile gets ErrSessionEnded.
func (s *Service) DisableTOTP(ctx context.Context, id uint, sessionKey, password, code string) (*User, error) {
	u, err := s.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	// A directory account keeps no hash here but has a password, the
	// directory's: only an account made by a provider has none.
	if u.PasswordHash != "" || u.Directory() || password != "" {
		if err := s.checkOwnPassword(ctx, u, password); err != nil {
			return nil, err
		}
	}
	var out *User
	err = s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&totpRow{}).Where("user_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNoSecondFactor
		}
		if _, err := s.checkCode(tx, id, code); err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", id).Delete(&totpRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", id).Delete(&recoveryCode{}).Error; err != nil {
			return err
		}
		var err error
		out, err = s.updateIf(tx, id, "session_key = ?", sessionKey,
			map[string]any{"session_key": newSessionKey(), "updated_at": time.Now().UTC()}, ErrSessionEnded)
		if err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.TwoFactorDisabled})
	})
	if errors.Is(err, ErrWrongCode) {
		if rerr := s.Events.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.TwoFactorFailed, Detail: "turning the authenticator app off"}); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("turn off authenticator for user %d: %w", id, err)
	}
	return out, nil
}

// ResetSecondFactorsBy removes every second factor of user id (the
// authenticator app, recovery codes and passkeys) for admin by, who has
// checked it is them (they lost their phone): their next sign-in needs
// only the password, and their sessions end. The security log records it
// with the admin as actor.
func (s *Service) ResetSecondFactorsBy(ctx context.Context, by, id uint) error {
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := s.byID(tx, id); err != nil {
			return err
		}
		for _, m := range []any{&totpRow{}, &recoveryCode{}, &Passkey{}} {
			if err := tx.Where("user_id = ?", id).Delete(m).Error; err != nil {
				return err
			}
		}
		if err := tx.Model(&User{}).Where("id = ?", id).
			Updates(map[string]any{"session_key": newSessionKey(), "updated_at": time.Now().UTC()}).Error; err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), ActorID: changedBy(by).actor(), Kind: seclog.TwoFactorReset, Method: changedBy(by).method})
	})
	if err != nil {
		return fmt.Errorf("reset second factors of user %d: %w", id, err)
	}
	return nil
}

// RequiresSecondFactor reports whether u holds one of roles (admins hold
// every role: MFA_REQUIRED_ROLES=user covers everyone).
func RequiresSecondFactor(u *User, roles []string) bool {
	for _, r := range roles {
		if u.HasRole(r) {
			return true
		}
	}
	return false
}

// WithoutSecondFactor lists the active users holding one of roles (each
// directly, or admin) who have no second factor, by email.
func (s *Service) WithoutSecondFactor(ctx context.Context, roles []string) ([]User, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	// Each name once, and a copy (appending to roles could write into the
	// caller's array): MariaDB 10.11 re-running the prepared statement
	// after a list with a name twice (admin, admin) returned a user twice.
	names := append(slices.Clone(roles), RoleAdmin)
	slices.Sort(names)
	names = slices.Compact(names)
	var out []User
	err := s.db.WithContext(ctx).
		Where("active = ?", true).
		Where("id IN (SELECT user_roles.user_id FROM user_roles JOIN roles ON roles.id = user_roles.role_id WHERE roles.name IN ?)", names).
		Where("id NOT IN (SELECT user_id FROM user_totp)").
		Where("id NOT IN (SELECT user_id FROM passkeys)").
		Preload("Roles", func(g *gorm.DB) *gorm.DB { return g.Order("name") }).
		Order("email").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("users without a second factor: %w", err)
	}
	return out, nil
}
