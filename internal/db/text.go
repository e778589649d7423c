package db

import (
	"strings"
	"time"
	"unicode/utf8"
)

// PlainText reports whether s is valid UTF-8 without NUL bytes: what
// every database stores and compares as text (PostgreSQL refuses NUL
// outright).
func PlainText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Now is the time as stored: UTC, to the microsecond every database
// keeps, so that a row read back equals the one written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
