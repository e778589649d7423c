package users

import (
	"crypto/rand"
	"fmt"

	"github.com/alexedwards/argon2id"
)

// checkPassword enforces the length limits, in bytes: what hashing costs
// depends on bytes, not characters.
func checkPassword(password string) error {
	if n := len(password); n < MinPasswordLen || n > MaxPasswordLen {
		return ErrInvalidPassword
	}
	return nil
}

// hash makes the argon2id hash of password with s.Params.
func (s *Service) hash(password string) (string, error) {
	h, err := argon2id.CreateHash(password, s.Params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// dummyHash is a hash, made with s.Params, that Authenticate compares
// against when the email is unknown, so that case costs as much as a
// wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = s.hash(rand.Text())
	})
	return s.dummy
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
