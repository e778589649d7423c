package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// ErrCannotOpen is returned by Sealer.Open when no key of this
// deployment opens a value: it was sealed under a SECRET_KEY that is no
// longer the key or a fallback, for another purpose or deployment, bound
// to other data, or it was altered.
var ErrCannotOpen = errors.New("keyring: no key opens this value")

// Sealer encrypts values kept at rest (in the database) with AES-256-GCM
// under keys derived for one purpose: the current key seals, the current
// and fallback keys open, so a rotation of SECRET_KEY keeps them readable
// while the old key is among SECRET_KEY_FALLBACKS.
type Sealer struct {
	aeads []cipher.AEAD // the current key's first
}

// Sealer returns the Sealer for purpose p, bound to this deployment
// (its BASE_URL) like every other key.
func (k *Keyring) Sealer(p Purpose) *Sealer { return newSealer(k.Keys(p, "AES-256-GCM", 32)) }

// AtRestSealer returns the Sealer for purpose p whose keys do not depend
// on BASE_URL: for secrets kept in the database that must outlive a move
// of the site to another address (the keys of authenticator apps). Bind
// each value to its row with Seal's additional data.
func (k *Keyring) AtRestSealer(p Purpose) *Sealer {
	return newSealer(k.atRestKeys(p, "AES-256-GCM", 32))
}

func newSealer(keys [][]byte) *Sealer {
	s := &Sealer{}
	for _, key := range keys {
		block, err := aes.NewCipher(key)
		if err != nil {
			panic("keyring: " + err.Error()) // a 32-byte key always makes a cipher
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			panic("keyring: " + err.Error())
		}
		s.aeads = append(s.aeads, aead)
	}
	return s
}

// Seal encrypts plain with the current key, bound to ad (additional data
// such as the owning row's ID: a value moved to another row does not
// open). The nonce is random and comes first.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	aead := s.aeads[0]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return aead.Seal(nonce, nonce, plain, ad)
}

// Open decrypts what Seal made with any key of the ring; ErrCannotOpen
// when none opens it. Current reports whether the current key did (when
// it did not, the value should be sealed again).
func (s *Sealer) Open(sealed, ad []byte) (plain []byte, current bool, err error) {
	for i, aead := range s.aeads {
		n := aead.NonceSize()
		if len(sealed) < n+aead.Overhead() {
			break
		}
		if b, err := aead.Open(nil, sealed[:n], sealed[n:], ad); err == nil {
			return b, i == 0, nil
		}
	}
	return nil, false, ErrCannotOpen
}
