package web

import (
	"net/http"
	"time"

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
		r.Use(s.crossOriginProtection, s.sessions, s.loadUser)
		r.Get("/", s.home)

		r.Route("/user", func(r chi.Router) {
			r.Get("/register", s.registerPage)
			r.Get("/sign-in", s.signInPage)
			r.Get("/forgot-password", s.forgotPasswordPage)
			r.Get("/reset-password/{token}", s.resetPasswordPage)
			r.Post("/reset-password/{token}", s.resetPassword)
			r.Get("/confirm-email/{token}", s.confirmEmail)
			r.Post("/sign-out", s.signOut)
			// Guessing and flooding targets: ten posts a minute per address.
			r.Group(func(r chi.Router) {
				r.Use(s.rateLimit(10, time.Minute))
				r.Post("/register", s.register)
				r.Post("/sign-in", s.signInPost)
				r.Post("/forgot-password", s.forgotPassword)
			})
			// (API key pages: /apikeys, /apikeys/{id}/delete)
			r.Group(func(r chi.Router) {
				r.Use(s.requireUser)
				r.Get("/profile", s.profilePage)
				r.Post("/profile", s.profile)
				r.Get("/change-password", s.changePasswordPage)
				r.Post("/change-password", s.changePassword)
			})
		})
		if s.extra != nil {
			s.extra(r)
		}
	})

	// JSON API under /api/: errors are JSON too.
	// JSON API. Its 404 and 405 answers come from the handlers above,
	// which speak JSON under /api/.
	r.Route("/api/v1", func(r chi.Router) {
		// (API routes: /credentials, /me)
	})
	return r
}
