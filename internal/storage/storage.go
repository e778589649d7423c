// Package storage keeps the files users upload: a Store saves, opens,
// deletes and lists objects by key, on local disk (Local, the development
// default, under data/uploads) or in an S3 bucket (S3, for every server
// of an app that scales out). Keys are generated here, never taken from
// a client; the type of a file is what its bytes say (Sniff), and the
// key's extension is derived from it.
//
// Which record owns which object is kept in the stored_files table
// (Files): Track in the transaction that gives a file to its record,
// Release in the one that takes it away, which queues the object's
// deletion through the outbox, retried until it is done. Sweep deletes
// the objects nobody tracks once they are a day old.
package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// ErrNotFound is returned for a key that names no object.
var ErrNotFound = errors.New("storage: no such file")

// Object describes one stored object.
type Object struct {
	Key         string
	Size        int64
	ContentType string
	Modified    time.Time
}

// Download says how a browser should be handed a file.
type Download struct {
	// Filename is the name offered when the file is saved; empty uses
	// the key's last element.
	Filename string
	// Inline shows the file in the browser rather than saving it. Only
	// the image types of Inlineable are ever shown inline: anything else
	// is an attachment whatever Inline says.
	Inline bool
}

// A Store keeps objects by key. Implementations are safe for concurrent
// use; both pass the same contract test (contract_test.go).
type Store interface {
	// Backend names the implementation: "local" or "s3".
	Backend() string
	// Put stores size bytes of body under key, with contentType,
	// replacing any object of that key. The object appears whole or not
	// at all.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error
	// Open opens the object of key for reading (ErrNotFound when there
	// is none). The caller closes it.
	Open(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// Delete removes the object of key; a key with no object is no error.
	Delete(ctx context.Context, key string) error
	// List calls fn with every object of this app, in no set order,
	// stopping at fn's first error.
	List(ctx context.Context, fn func(Object) error) error
	// URL is a short-lived address from which a browser fetches the
	// object directly (S3's presigned URLs), or "" when the app serves
	// the file itself (Local).
	URL(ctx context.Context, key string, d Download) (string, error)
}

// keyPattern is what a key may look like: lower-case path elements of
// letters, digits, -, _ and ., none starting with a dot, so no "..", no
// hidden file and nothing a file system or an S3 console reads
// differently.
var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9._-]*)*$`)

// MaxKeyLength is the longest key (the stored_files column holds 255).
const MaxKeyLength = 200

// ValidKey reports whether key is one this package could have made.
func ValidKey(key string) bool {
	return len(key) <= MaxKeyLength && keyPattern.MatchString(key) && !strings.Contains(key, "..")
}

func checkKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("storage: %q is not a valid key", key)
	}
	return nil
}

// NewKey makes a new key under dir (such as "avatars"), with 130 random
// bits and the extension of contentType: dir/<26 characters>.png.
func NewKey(dir, contentType string) string {
	return dir + "/" + strings.ToLower(rand.Text()) + Extension(contentType)
}

// Variant is the key of a derived copy of key (a resized picture):
// avatars/abc.jpg with "256" is avatars/abc-256.jpg.
func Variant(key, name string) string {
	dot := strings.LastIndexByte(key, '.')
	if dot < strings.LastIndexByte(key, '/') || dot < 0 {
		return key + "-" + name
	}
	return key[:dot] + "-" + name + key[dot:]
}
