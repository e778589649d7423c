package users

import (
	"context"
	"crypto/rand"
	_ "embed" // common-passwords.txt
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
	"golang.org/x/sync/semaphore"
)

// PasswordProblem says why CheckPassword refuses a password, in words for
// the person choosing it. errors.Is(p, ErrInvalidPassword) holds.
type PasswordProblem struct {
	Reason string
}

func (p *PasswordProblem) Error() string { return "password not allowed: " + p.Reason }

// Is makes every PasswordProblem an ErrInvalidPassword.
func (p *PasswordProblem) Is(target error) bool { return target == ErrInvalidPassword }

// CheckPassword applies the password policy, after NIST SP 800-63B:
//   - text (valid UTF-8) of at least MinPasswordLen characters (not
//     bytes) and at most MaxPasswordLen bytes (what hashing costs depends
//     on bytes); nothing is trimmed, and every character is welcome;
//   - not only white space;
//   - not one of the most common passwords (common-passwords.txt), in any
//     case;
//   - not the account's email address, nor the part before its @ (email
//     may be empty when there is no account yet);
//   - not the site's name, appName (APP_NAME), in any case;
//   - not easy to guess: zxcvbn's estimate reaches MinPasswordScore, with
//     the address, its parts and the site's name among the words it tries
//     first.
//
// Every way a password is set goes through it (Service.CheckPassword).
func CheckPassword(password, email, appName string) error {
	switch {
	case !utf8.ValidString(password):
		return &PasswordProblem{"this is not valid UTF-8 text: use characters a keyboard can type"}
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return &PasswordProblem{fmt.Sprintf("use at least %d characters", MinPasswordLen)}
	case len(password) > MaxPasswordLen:
		return &PasswordProblem{fmt.Sprintf("use at most %d bytes (about as many letters)", MaxPasswordLen)}
	case strings.TrimFunc(password, unicode.IsSpace) == "":
		return &PasswordProblem{"a password of only white space is too easy to guess"}
	case isCommonPassword(password):
		return &PasswordProblem{"this is one of the most common passwords: choose one nobody else would"}
	}
	if email = strings.ToLower(strings.TrimSpace(email)); email != "" {
		local, _, _ := strings.Cut(email, "@")
		if lower := strings.ToLower(password); lower == email || lower == local {
			return &PasswordProblem{"your password must not be your email address"}
		}
	}
	if app := strings.ToLower(strings.TrimSpace(appName)); app != "" && strings.ToLower(password) == app {
		return &PasswordProblem{"your password must not be the site's name"}
	}
	if result := zxcvbn.PasswordStrength(strengthInput(password), contextWords(email, appName)); result.Score < MinPasswordScore {
		why, advice := guessHint(result.Sequence, contextWords("", appName))
		return &PasswordProblem{"too easy to guess: " + why + ". " + advice}
	}
	return nil
}

// MinPasswordScore is the zxcvbn score (0 to 4) a new password must
// reach: 3, at least 10^8 guesses by zxcvbn's estimate, what it calls
// "safely unguessable" where the stored hash is slow, as argon2id is.
// Guessing online is held back by the sign-in budgets already, so a
// lower score would do there; this one is for the day a copy of the
// database leaks, when every guess costs a hash. zxcvbn counts any 8
// characters as at most 10^8 guesses, so in practice a password needs 9
// characters or more, or a few words (NIST SP 800-63B's revision 4 asks
// for 15 where the password is the only factor).
const MinPasswordScore = 3

// strengthInputLen is how many bytes of a password zxcvbn reads. Its
// cost grows faster than the length (with l33t characters, hundreds of
// milliseconds at 100 bytes and seconds at 256), while a password whose
// first 64 bytes are hard to guess is hard to guess: the rest is not
// read.
const strengthInputLen = 64

// strengthInput is the start of password that zxcvbn reads: at most
// strengthInputLen bytes, cut at a character boundary (zxcvbn rates any
// invalid UTF-8 as weakest).
func strengthInput(password string) string {
	if len(password) <= strengthInputLen {
		return password
	}
	cut := strengthInputLen
	for cut > 0 && !utf8.RuneStart(password[cut]) {
		cut--
	}
	return password[:cut]
}

// contextWords are the words zxcvbn should take as known to an attacker
// of this account: the email address, its local part, the pieces of both
// and those of the local part run together (ada, lovelace, adalovelace,
// example from ada.lovelace@example.com), and the site's name with its
// words.
func contextWords(email, appName string) []string {
	var words []string
	add := func(s string) {
		if s = strings.ToLower(strings.TrimSpace(s)); len(s) >= 3 && !slices.Contains(words, s) {
			words = append(words, s)
		}
	}
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	email = strings.TrimSpace(email)
	add(email)
	local, domain, _ := strings.Cut(email, "@")
	add(local)
	add(domain)
	add(strings.Join(split(local), ""))
	for _, w := range slices.Concat(split(local), split(domain)) {
		add(w)
	}
	add(appName)
	add(strings.Join(split(appName), ""))
	for _, w := range split(appName) {
		add(w)
	}
	return words
}

// guessHint says, for a person, what made a password easy to guess (the
// longest part of zxcvbn's cheapest way to guess it: zxcvbn's own
// feedback is not in its Go port) and what to do instead. appWords are
// the context words that come from the site's name.
func guessHint(sequence []*match.Match, appWords []string) (why, advice string) {
	const addWords = "Add a few more words, ones not often seen together"
	var longest *match.Match
	for _, m := range sequence {
		if longest == nil || m.J-m.I > longest.J-longest.I {
			longest = m
		}
	}
	if longest == nil {
		return "it is too simple", addWords
	}
	switch longest.Pattern {
	case "dictionary":
		switch longest.DictionaryName {
		case "user_inputs":
			if slices.Contains(appWords, longest.MatchedWord) {
				return "it is built on the site's name", "Leave the site's name out, or add words of your own"
			}
			return "it is built on your email address or name", "Leave your address and name out, or add words of your own"
		case "passwords":
			return "it is built on a commonly used password", addWords
		case "male_names", "female_names", "surnames":
			return "names are among the first words tried", addWords
		}
		return "common words on their own are among the first things tried", addWords
	case "spatial":
		return "keyboard patterns like qwerty or zxcvbn are among the first things tried", addWords
	case "repeat":
		return "repeated characters or words, like aaaa or 1212, are among the first things tried", addWords
	case "sequence":
		return "sequences like abcd or 9876 are among the first things tried", addWords
	case "date", "regex":
		return "dates and years are among the first things tried", addWords
	}
	return "it is short, and short passwords can be tried one by one", "Make it longer: 9 characters or more, or a few words"
}

// CheckPassword applies the password policy with the service's AppName:
// the check every password the service sets goes through.
func (s *Service) CheckPassword(password, email string) error {
	return CheckPassword(password, email, s.AppName)
}

//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords is the sorted list of common-passwords.txt, read on
// first use.
var commonPasswords = sync.OnceValue(func() []string {
	var list []string
	for line := range strings.Lines(commonPasswordsFile) {
		if line = strings.TrimRight(line, "\n"); line != "" && !strings.HasPrefix(line, "#") {
			list = append(list, line)
		}
	}
	slices.Sort(list)
	return list
})

func isCommonPassword(password string) bool {
	_, found := slices.BinarySearch(commonPasswords(), strings.ToLower(password))
	return found
}

// DefaultParams are the argon2id parameters new password hashes get:
// OWASP's recommended m=19 MiB, t=2, p=1. Its other recommended settings
// are equally strong (memory and passes trade against each other); this
// one keeps a hash's memory, which every concurrent sign-in holds, at
// 19 MiB rather than argon2id's own default of 64 MiB.
var DefaultParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// HashStats say how many password hashes are running and how many wait
// for a turn (see Service.MaxConcurrentHashes).
type HashStats struct {
	Running, Waiting int
}

// hashing bounds the memory argon2id computations hold at once: room
// for MaxConcurrentHashes hashes of Params.Memory. Without a bound a
// burst of sign-ins (or of password changes) multiplies the process's
// memory; with it they queue for a turn, as long as their request lasts.
// A hash takes room for its own memory, so checking a password stored
// with bigger parameters (argon2id's 64 MiB default, say) runs with fewer
// others, or alone.
type hashing struct {
	room             *semaphore.Weighted
	size             int64 // KiB
	running, waiting atomic.Int64
	dead             atomic.Bool // a big hash finished since a big one last started
	collecting       sync.Mutex  // held while a collection runs before a hash
}

// hashingFor returns the Service's hashing bound, made on first use.
func (s *Service) hashingFor() *hashing {
	s.hashingOnce.Do(func() {
		size := int64(max(1, s.MaxConcurrentHashes)) * int64(max(1, s.Params.Memory))
		s.hashing = &hashing{room: semaphore.NewWeighted(size), size: size}
	})
	return s.hashing
}

// withHashSlot runs f, a hash needing memoryKiB, once there is room for
// it, or fails when ctx ends first.
func (s *Service) withHashSlot(ctx context.Context, memoryKiB uint32, f func() error) error {
	h := s.hashingFor()
	need := min(int64(max(1, memoryKiB)), h.size)
	h.waiting.Add(1)
	err := h.room.Acquire(ctx, need)
	h.waiting.Add(-1)
	if err != nil {
		return fmt.Errorf("wait for a turn to hash a password: %w", err)
	}
	h.running.Add(1)
	defer func() {
		if memoryKiB >= gcBeforeHashKiB {
			h.dead.Store(true)
		}
		h.running.Add(-1)
		h.room.Release(need)
	}()
	if memoryKiB >= gcBeforeHashKiB {
		// When a hash finished since the last one started, its memory is
		// garbage that the collector would only get to once the heap had
		// grown to twice its live size: under a burst of sign-ins,
		// several dead hashes' worth. Collecting first lets this hash
		// reuse that memory; argon2's memory holds no pointers, so the
		// collection costs little beside a hash of tens of milliseconds.
		// A hash starting meanwhile waits for that collection too, rather
		// than take new memory while the dead hashes' is not yet free.
		h.collecting.Lock()
		if h.dead.CompareAndSwap(true, false) {
			runtime.GC()
		}
		h.collecting.Unlock()
	}
	return f()
}

// gcBeforeHashKiB is the hash memory from which a hash may be preceded
// by a garbage collection (see withHashSlot); cheaper hashes, as in
// tests, are not worth one.
const gcBeforeHashKiB = 16 * 1024

// HashStats reports the password hashes running and waiting now.
func (s *Service) HashStats() HashStats {
	h := s.hashingFor()
	return HashStats{Running: int(h.running.Load()), Waiting: int(h.waiting.Load())}
}

// hash makes the argon2id hash of password with s.Params, in its turn.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var h string
	err := s.withHashSlot(ctx, s.Params.Memory, func() (err error) {
		h, err = argon2id.CreateHash(password, s.Params)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// matches reports whether password is the one hash was made from, in its
// turn; hash records its own parameters, memory included.
func (s *Service) matches(ctx context.Context, password, hash string) (bool, error) {
	p, _, _, err := argon2id.DecodeHash(hash)
	if err != nil {
		return false, fmt.Errorf("stored password hash: %w", err)
	}
	var match bool
	err = s.withHashSlot(ctx, p.Memory, func() (err error) {
		match, err = argon2id.ComparePasswordAndHash(password, hash)
		return err
	})
	return match, err
}

// outdated reports whether hash was made with parameters other than
// s.Params, so that it should be replaced when the password is next known.
func (s *Service) outdated(hash string) bool {
	p, _, _, err := argon2id.DecodeHash(hash)
	return err == nil && *p != *s.Params
}

// dummyHash is a hash, made with s.Params, that authenticate compares
// against when the email is unknown, so that case costs as much as a
// wrong password. It is made on first need, not at start.
func (s *Service) dummyHash(ctx context.Context) (string, error) {
	s.dummyMu.Lock()
	defer s.dummyMu.Unlock()
	if s.dummy == "" || s.outdated(s.dummy) {
		h, err := s.hash(ctx, rand.Text())
		if err != nil {
			return "", err
		}
		s.dummy = h
	}
	return s.dummy, nil
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// GeneratePassword returns a random 20-character password of letters and
// digits (about 119 bits), for accounts made by an administrator.
func GeneratePassword() (string, error) {
	const length = 20
	// Rejection sampling: only bytes below the largest multiple of the
	// alphabet's size map uniformly onto it.
	const limit = 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, length)
	buf := make([]byte, 2*length)
	for len(out) < length {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < length {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}
