package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/users"
)

// routes is the whole URL map of the site.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(s.asPage(s.notFound))
	r.MethodNotAllowed(s.asPage(s.methodNotAllowed(r)))

	r.Use(s.requestID, s.observe, s.recoverPanic, s.deadline, s.securityHeaders, middleware.GetHead)

	// Probes and assets: no session, no CSRF check.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.publicMetrics() {
		r.Get("/metrics", s.metricsHandler())
	}
	r.Method(http.MethodGet, "/static/*", s.static())

	// Budgets (limits.go): password checks per client address, all such
	// routes together, and posts that mail or create accounts.
	guess := s.limitAddress("guess", guessesPerAddress)
	flood := s.limitAddress("post", postsPerAddress)

	// Pages: a session (created only when written), cross-origin
	// protection for every unsafe method, and no caching of what a
	// signed-in user is sent.
	r.Group(func(r chi.Router) {
		r.Use(s.crossOriginProtection, s.noStoreWhenSignedIn, s.withClient, s.withSession, s.loadUser, s.requireSecondFactorSetup)
		r.Get("/", s.handle(s.homePage))

		r.Route("/user", func(r chi.Router) {
			// Each page's GET beside its POST.
			r.Get("/sign-in", s.handle(s.signInPage))
			r.With(guess).Post("/sign-in", s.handle(s.signIn))
			r.Post("/sign-out", s.handle(s.signOut))
			r.Get("/register", s.handle(s.registerPage))
			r.With(flood).Post("/register", s.handle(s.register))
			r.Get("/confirm-email/{token}", s.handle(s.confirmEmail))
			r.Get("/resend-confirmation", s.handle(s.resendConfirmationPage))
			r.With(flood).Post("/resend-confirmation", s.handle(s.resendConfirmation))
			r.Get("/forgot-password", s.handle(s.forgotPasswordPage))
			r.With(flood).Post("/forgot-password", s.handle(s.forgotPassword))
			r.Get("/reset-password/{token}", s.handle(s.resetPasswordPage))
			r.With(guess).Post("/reset-password/{token}", s.handle(s.resetPassword))
			// Sign-in through an OpenID Connect provider (sso.go): the
			// start is a POST; the callback checks what the provider
			// sends back, and costs a guess like a password check.
			r.With(flood).Post("/sso/{provider}/start", s.handle(s.ssoStart))
			r.With(guess).Get("/sso/{provider}/callback", s.handle(s.ssoCallback))
			// The second step of a sign-in (twofactor.go): a code from the
			// authenticator app or a recovery code, or a passkey
			// (passkeys.go); each try costs a guess like a password.
			r.Get("/sign-in/two-factor", s.handle(s.secondStepPage))
			r.With(guess).Post("/sign-in/two-factor", s.handle(s.secondStep))
			r.With(flood).Post("/sign-in/two-factor/passkey/begin", s.handle(s.passkeySecondStepBegin))
			r.With(guess).Post("/sign-in/two-factor/passkey/finish", s.handle(s.passkeySecondStepFinish))
			// Sign-in with a passkey and no password (passkeys.go).
			r.With(s.limitAddress("passkey", passkeyBeginsPerAddress)).Post("/sign-in/passkey/begin", s.handle(s.passkeySignInBegin))
			r.With(guess).Post("/sign-in/passkey/finish", s.handle(s.passkeySignInFinish))
			r.Group(func(r chi.Router) {
				r.Use(s.requireUser)
				r.Get("/security", s.handle(s.securityPage))
				r.Get("/profile", s.handle(s.profilePage))
				r.Post("/profile", s.handle(s.updateProfile))
				r.With(guess).Post("/sign-out-others", s.handle(s.signOutOthers))
				r.Post("/sessions/{id}/sign-out", s.handle(s.signOutSession))
				r.Get("/change-password", s.handle(s.changePasswordPage))
				r.With(guess).Post("/change-password", s.handle(s.changePassword))
				r.Post("/sso/identities/{id}/unlink", s.handle(s.ssoUnlink))
				// Second factors: the authenticator app and its recovery
				// codes (twofactor_setup.go), passkeys (passkeys.go).
				r.Get("/two-factor", s.handle(s.twoFactorPage))
				r.With(guess).Post("/two-factor", s.handle(s.enableTwoFactor))
				r.With(guess).Post("/two-factor/disable", s.handle(s.disableTwoFactor))
				r.With(guess).Post("/two-factor/recovery-codes", s.handle(s.regenerateRecoveryCodes))
				r.Post("/passkeys/register/begin", s.handle(s.passkeyRegisterBegin))
				r.Post("/passkeys/register/finish", s.handle(s.passkeyRegisterFinish))
				r.With(guess).Post("/passkeys/{id}/delete", s.handle(s.deletePasskey))
			})
			// API keys: for developers (and admins, who hold every role).
			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(users.APIKeyRole))
				r.Get("/apikeys", s.handle(s.apiKeysPage))
				r.Post("/apikeys", s.handle(s.createAPIKey))
				r.Post("/apikeys/{id}/delete", s.handle(s.deleteAPIKey))
			})
		})

		// Profile pictures (avatar.go): to their owner and to admins, a
		// 404 to anyone else (visitors too, rather than the sign-in
		// page); kept by the browser, unlike pages (cachePrivately).
		r.Get("/users/{id}/avatar/{size}", s.handle(s.avatar))

		// Resources owned by signed-in users (go run ./tools/scaffold
		// adds theirs here).
		r.Group(func(r chi.Router) {
			r.Use(s.requireUser)
			// scaffold:routes
		})

		r.Route("/admin", func(r chi.Router) {
			r.Use(s.requireRole(users.RoleAdmin))
			r.Get("/", s.handle(s.adminHomePage))
			r.Get("/users", s.handle(s.adminUsersPage))
			r.Get("/users/new", s.handle(s.newUserPage))
			r.Post("/users/new", s.handle(s.createUser))
			r.Get("/users/{id}/edit", s.handle(s.editUserPage))
			r.Post("/users/{id}/edit", s.handle(s.updateUser))
			r.Post("/users/{id}/delete", s.handle(s.deleteUser))
			r.Post("/users/{id}/sign-out", s.handle(s.signOutUser))
			r.Post("/users/{id}/reset-second-factors", s.handle(s.resetSecondFactors))
			r.Get("/security-events", s.handle(s.adminSecurityEventsPage))
			jobs := wholePage(s.jobsDashboard()) // not for a boosted swap (htmx.go)
			r.Handle("/jobs", jobs)
			r.Handle("/jobs/*", jobs)
		})
		// Development tools under /dev (dev.go): in development only, so
		// a 404 everywhere else, and only to this machine. Production
		// builds (-tags nodev, make build) leave them out altogether.
		if s.cfg.Env == config.EnvDevelopment {
			s.devRoutes(r)
		}
		if s.extra != nil {
			s.extra(r)
		}
	})

	// JSON API. Its 404 and 405 answers come from the handlers above,
	// which speak JSON under /api/.
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.withClient)
		r.With(guess).Post("/credentials", s.handle(s.createCredentials))
		r.With(s.requireAPIKey).Get("/me", s.handle(s.me))
	})
	return r
}
