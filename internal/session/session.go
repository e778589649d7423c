// Package session owns the per-visitor session: the Manager interface the
// web layer depends on, its implementation on alexedwards/scs, the stores
// it can use (memory, the application database, Redis), flash messages,
// and the registry of each user's signed-in sessions that lets one of
// them be listed and ended (registry.go).
//
// A request that writes nothing to its session creates no server-side
// session and gets no cookie, so anonymous traffic never fills the store.
package session

import (
	"context"
	"encoding/json"
	"net/http"
)

// Manager is what handlers use to read and write the visitor's session.
// Every method but LoadAndSave works on the session loaded into ctx.
type Manager interface {
	// LoadAndSave loads the session for each request and saves it, with
	// its cookie, when the handler changed it. onError renders a failure
	// of the session store.
	LoadAndSave(next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler

	Get(ctx context.Context, key string) any
	GetString(ctx context.Context, key string) string
	GetInt64(ctx context.Context, key string) int64
	Exists(ctx context.Context, key string) bool
	Put(ctx context.Context, key string, value any)
	PopString(ctx context.Context, key string) string
	Remove(ctx context.Context, key string)

	// RenewToken gives the session a new token, keeping its data; call it
	// at sign-in and at any change of privilege.
	RenewToken(ctx context.Context) error
	// Destroy deletes the session's server-side data and expires its cookie.
	Destroy(ctx context.Context) error
}

// Flash is a one-time message shown on the next page rendered.
type Flash struct {
	Kind    string `json:"kind"` // "info", "success", "error"
	Message string `json:"message"`
}

const flashKey = "_flashes"

// AddFlash queues a message for the next page.
func AddFlash(ctx context.Context, m Manager, kind, message string) {
	flashes := decodeFlashes(m.GetString(ctx, flashKey))
	flashes = append(flashes, Flash{Kind: kind, Message: message})
	b, _ := json.Marshal(flashes) // a slice of two strings always marshals
	m.Put(ctx, flashKey, string(b))
}

// PopFlashes returns the queued messages and clears them. It touches the
// session only when there is something to pop.
func PopFlashes(ctx context.Context, m Manager) []Flash {
	if !m.Exists(ctx, flashKey) {
		return nil
	}
	return decodeFlashes(m.PopString(ctx, flashKey))
}

func decodeFlashes(s string) []Flash {
	var flashes []Flash
	if s != "" {
		_ = json.Unmarshal([]byte(s), &flashes) // unreadable flashes are dropped, not fatal
	}
	return flashes
}
