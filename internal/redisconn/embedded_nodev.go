//go:build nodev

package redisconn

import "errors"

// Embedded is the in-memory development Redis, which a binary built with
// -tags nodev (a production build) leaves out, with miniredis and its
// Lua interpreter: StartEmbedded refuses.
type Embedded struct{}

// ErrNoEmbedded is StartEmbedded's answer in a -tags nodev build.
var ErrNoEmbedded = errors.New("this binary was built without the embedded development Redis (-tags nodev), as make build makes them for production: set REDIS_URL, or use make run in development")

// StartEmbedded returns ErrNoEmbedded.
func StartEmbedded() (*Embedded, error) { return nil, ErrNoEmbedded }

// URL is never called: there is no Embedded to call it on.
func (*Embedded) URL() string { return "" }

// Close has nothing to stop.
func (*Embedded) Close() {}
