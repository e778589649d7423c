package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the whole URL map of the site.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed(r))

	r.Use(s.requestID, s.observe, s.recoverPanic, s.securityHeaders, middleware.GetHead)

	// Probes and assets: no session, no CSRF check.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/metrics", s.metrics())
	r.Handle("/static/*", s.static())

	// Pages: a session (created only when written) and cross-origin
	// protection for every unsafe method.
	r.Group(func(r chi.Router) {
		r.Use(s.crossOriginProtection, s.sessions)
		r.Get("/", s.home)
		if s.extra != nil {
			s.extra(r)
		}
	})

	// JSON API under /api/: errors are JSON too.
	// JSON API. Its 404 and 405 answers come from the handlers above,
	// which speak JSON under /api/.
	r.Route("/api/v1", func(r chi.Router) {
	})
	return r
}
