// Package app builds, once per process, the dependencies every part of
// Launchkit shares — database, Redis, session manager, mailer, job queue,
// logger — from the configuration, and closes them once at the end.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/alerts"
	"github.com/launchkit/launchkit/internal/cache"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/errreport"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/logging"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/metrics"
	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/telemetry"
	"github.com/launchkit/launchkit/internal/users"
	"github.com/launchkit/launchkit/templates"
)

// App is the container of shared dependencies. Build it with New, close
// it with Close; every field is ready to use in between.
type App struct {
	// Config is the effective configuration.
	Config *config.Config
	// Logger writes structured logs with the request ID when logged with
	// a request's context, and never prints secret values.
	Logger *slog.Logger
	// DB is the application database, migrated when AUTO_MIGRATE is on
	// and the process asked for it.
	DB *db.DB
	// Redis is the connection the job queue (and the redis session store)
	// use: REDIS_URL, or the embedded in-memory Redis in development.
	Redis *redis.Client
	// Keys derives the keys that sign and encrypt values sent to browsers
	// (cookies) from SECRET_KEY and its fallbacks, each bound to its
	// purpose and to this deployment.
	Keys *keyring.Keyring
	// Sessions is the session manager the web layer uses.
	Sessions session.Manager
	// SessionRegistry lists each user's signed-in sessions (table
	// user_sessions), for the stores that can end one of them (all but
	// SESSION_STORE=cookie); the hourly purge empties it of ended ones
	// whatever the store.
	SessionRegistry *session.Registry
	// Mailer delivers mail; only job handlers call it.
	Mailer mail.Mailer
	// MailTemplates renders the emails in templates/emails.
	MailTemplates *mail.Templates
	// Outbox moves the tasks written with database changes (account
	// mail) to the queue: call Send after such a change; RunOutbox keeps
	// retrying what Redis could not take at the time.
	Outbox *outbox.Relay
	// Jobs enqueues background tasks.
	Jobs *jobs.Client
	// Users manages accounts, passwords, roles and account tokens.
	Users *users.Service
	// Metrics is the Prometheus registry served at /metrics.
	Metrics *metrics.Metrics
	// Limits keeps the guessing and flooding budgets: in Redis when
	// REDIS_URL is set, so every web process spends from the same ones;
	// in this process's memory otherwise.
	Limits *ratelimit.Limiter
	// Cache keeps computed values for a while (CACHE_TYPE): in this
	// process, or in Redis for every process.
	Cache *cache.Cache
	// Alerts mails ADMINS about 500s, panics and tasks out of retries
	// (EMAIL_ERRORS); nil when off.
	Alerts *alerts.Mailer
	// Reports sends panics, 500s and tasks out of retries to the error
	// tracker (SENTRY_DSN), beside the admins' mail; nil when off.
	Reports *errreport.Reporter
	// Directory signs users in against LDAP (USER_LDAP); nil when off.
	Directory *directory.Client
	// Events is the security log (sign-ins, credential and role
	// changes), which the users service writes and the security and
	// admin pages read.
	Events *seclog.Log
	// SSO are the OpenID Connect providers users sign in through
	// (OIDC_PROVIDERS), empty when there are none. Nothing is fetched
	// from a provider until a sign-in through it starts.
	SSO *sso.Set
	// Storage keeps uploaded files (STORAGE_BACKEND): a directory, or an
	// S3 bucket every process shares.
	Storage storage.Store
	// Files tracks which stored objects records own, and deletes the
	// rest (the worker's storage tasks).
	Files *storage.Files
	// Telemetry is the process's tracing (OTEL_* variables): off, and
	// no instrumentation installed, unless an endpoint is set.
	Telemetry *telemetry.Telemetry
	// (go run ./tools/scaffold adds its resources' services here.)
	// scaffold:services

	embedded   *redisconn.Embedded
	cacheRedis *redis.Client // CACHE_URL's own server, when not REDIS_URL's
}

// Options say what kind of process is being built.
type Options struct {
	// Migrate applies pending migrations when AUTO_MIGRATE is on.
	Migrate bool
	// EmbeddedRedis allows an in-memory Redis when REDIS_URL is empty
	// (the development web process).
	EmbeddedRedis bool
	// Process names the process for tracing ("web", "worker"): its
	// default service.name is the app's name and this. Empty: no
	// tracing (manage's commands).
	Process string
	// Telemetry, when set, is used instead of reading OTEL_* (tests
	// trace into telemetry.Setup's Options.Exporter with it).
	Telemetry *telemetry.Telemetry
}

// openCache builds the Cache CACHE_TYPE names: redis (on CACHE_URL's
// server, else the app's Redis) or memory. Left empty, it is redis when
// REDIS_URL is set in production, so every process shares it.
func (a *App) openCache(ctx context.Context) (*cache.Cache, error) {
	kind := a.Config.CacheType
	if kind == "" {
		kind = "memory"
		if a.Config.IsProduction() && a.Config.RedisURL != "" {
			kind = "redis"
		}
	}
	var store cache.Store
	switch {
	case kind == "redis":
		rdb := a.Redis
		if url := a.Config.CacheURL; url != "" && url != a.Config.RedisURL {
			own, err := redisconn.Open(ctx, url)
			if err != nil {
				return nil, fmt.Errorf("CACHE_URL: %w", err)
			}
			a.cacheRedis, rdb = own, own
			if err := a.traceRedis(own); err != nil {
				return nil, err
			}
		}
		store = cache.Redis(rdb)
	default:
		if a.Config.CacheURL != "" {
			a.Logger.Info("CACHE_URL is set but the cache is in this process's memory: set CACHE_TYPE=redis to use it")
		}
		store = cache.Memory(100_000)
	}
	return cache.New(store, a.Config.CacheExpire, a.Logger, cache.Observer{Lookup: a.Metrics.ObserveCacheLookup, Error: a.Metrics.ObserveCacheError}), nil
}

// ErrNoRedis is returned when a process needs Redis and REDIS_URL is empty.
var ErrNoRedis = errors.New("REDIS_URL is not set")

// NewLogger makes the process logger from the configuration.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return logging.New(w, logging.Options{Format: cfg.LogFormat, Level: cfg.LogLevel, Secrets: cfg.SecretValues()})
}

// New builds the container. On error everything already opened is closed.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (_ *App, err error) {
	a := &App{Config: cfg, Logger: logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.Metrics, err = metrics.New(); err != nil {
		return nil, err
	}
	if a.Telemetry = opts.Telemetry; a.Telemetry == nil {
		if a.Telemetry, err = a.startTelemetry(ctx, opts.Process); err != nil {
			return nil, err
		}
	}
	if a.Keys, err = keyring.New(cfg.SecretKey, cfg.SecretKeyFallbacks, cfg.BaseURL); err != nil {
		return nil, err
	}
	if a.Reports, err = errreport.New(errreport.Options{
		DSN: cfg.SentryDSN, Environment: cfg.Env, Release: telemetry.Release(),
		Scrub: cfg.Scrub, SecretNames: []string{cfg.SessionCookieName},
	}); err != nil {
		return nil, err
	}
	if a.Reports != nil {
		// The host only: the DSN's key is a secret.
		if u, err := url.Parse(cfg.SentryDSN); err == nil {
			a.Logger.Info("error reports are on: panics, 500s and tasks out of retries go to the tracker", "host", u.Host)
		}
	}

	// Redis first: a process that cannot have one (no REDIS_URL where
	// it is needed) stops before it opens, or migrates, the database.
	if err := a.openRedis(ctx, opts.EmbeddedRedis); err != nil {
		return nil, err
	}
	if a.DB, err = OpenDB(ctx, cfg, logger); err != nil {
		return nil, err
	}
	if err := a.traceDB(); err != nil {
		return nil, err
	}
	if opts.Migrate {
		if err := a.migrate(ctx); err != nil {
			return nil, err
		}
	}
	a.Jobs = jobs.NewClient(a.Redis)
	if err := a.watch(); err != nil {
		return nil, err
	}
	a.Outbox = outbox.NewRelay(a.DB.Gorm, a.Redis, jobs.TaskOptions, logger)
	if cfg.RedisURL != "" {
		a.Limits = ratelimit.New(a.Redis, logger)
	} else {
		a.Limits = ratelimit.New(nil, logger)
	}
	if a.Cache, err = a.openCache(ctx); err != nil {
		return nil, err
	}
	a.Alerts = a.newAlerts()
	if a.Storage, err = storage.Open(ctx, cfg, a.storageOptions()...); err != nil {
		return nil, err
	}
	a.Files = &storage.Files{DB: a.DB.Gorm, Store: a.Storage, Logger: logger}
	if err := a.openUsers(); err != nil {
		return nil, err
	}
	// scaffold:wire
	if a.Sessions, err = a.openSessions(); err != nil {
		return nil, err
	}
	if a.SessionRegistry, err = session.NewRegistry(a.DB, a.Keys, cfg.SessionIdleTimeout); err != nil {
		return nil, err
	}
	if err := a.openMailer(); err != nil {
		return nil, err
	}
	return a, nil
}

// watch publishes the database pool's statistics and the job queues'
// counts in the metrics.
func (a *App) watch() error {
	if err := a.Metrics.WatchDB(a.DB.SQL, a.DB.ReadSQL); err != nil {
		return err
	}
	return a.Metrics.WatchQueues(func(ctx context.Context) (map[string]metrics.QueueTasks, error) {
		queues, err := a.Jobs.QueueStats(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]metrics.QueueTasks, len(queues))
		for name, q := range queues {
			out[name] = metrics.QueueTasks(q)
		}
		return out, nil
	})
}

// openRedis opens REDIS_URL, or, when it is empty and embedded allows
// it (the development web process), starts the embedded in-memory Redis
// and opens that.
func (a *App) openRedis(ctx context.Context, embedded bool) (err error) {
	redisconn.LogTo(a.Logger)
	url := a.Config.RedisURL
	if url == "" {
		if !embedded {
			return ErrNoRedis
		}
		if a.embedded, err = redisconn.StartEmbedded(); err != nil {
			return err
		}
		url = a.embedded.URL()
		a.Logger.Info("REDIS_URL is empty: using an embedded in-memory Redis; jobs run in this process and are lost on exit")
	}
	if a.Redis, err = redisconn.Open(ctx, url); err != nil {
		return err
	}
	return a.traceRedis(a.Redis)
}

// newAlerts is the admins' error mail (EMAIL_ERRORS with ADMINS), or
// nil.
func (a *App) newAlerts() *alerts.Mailer {
	cfg := a.Config
	if !cfg.EmailErrors {
		return nil
	}
	if len(cfg.Admins) == 0 {
		a.Logger.Info("EMAIL_ERRORS is on but ADMINS is empty: errors are logged, not mailed (set ADMINS to the addresses that should get them)")
		return nil
	}
	return &alerts.Mailer{
		Admins: cfg.Admins, AppName: cfg.AppName, Scrub: cfg.Scrub,
		DB: a.DB.Gorm, Relay: a.Outbox, Limits: a.Limits, Logger: a.Logger,
	}
}

// openUsers builds the users service, signing in against the directory
// when USER_LDAP is on, and the OpenID Connect providers
// (OIDC_PROVIDERS), and shows its password hashing in the metrics.
func (a *App) openUsers() (err error) {
	cfg := a.Config
	a.Users = NewUsers(cfg, a.DB)
	a.Events = seclog.New(a.DB.Gorm, a.Logger, a.Metrics.ObserveSecurityEvent)
	a.Users.Events = a.Events
	if a.Directory, err = directory.New(cfg); err != nil {
		return err
	}
	if a.SSO, err = sso.New(cfg, a.ssoClient()); err != nil {
		return fmt.Errorf("OIDC_PROVIDERS: %w", err)
	}
	if a.Directory != nil {
		a.Users.Directory = a.Directory
	} else if cfg.LDAPHost != "" || cfg.UserLDAPAllowLocal {
		a.Logger.Info("LDAP settings are present but USER_LDAP is off: directory sign-in stays off (set USER_LDAP=true to use it)")
	}
	return a.Metrics.WatchPasswordHashing(func() (int, int) {
		st := a.Users.HashStats()
		return st.Running, st.Waiting
	})
}

// openSessions builds the session manager SESSION_STORE names: signed
// and encrypted cookies, or scs on the memory, redis or (the default)
// database store.
func (a *App) openSessions() (session.Manager, error) {
	cfg := a.Config
	opts := session.Options{
		Name:         cfg.SessionCookieName,
		Lifetime:     cfg.SessionLifetime,
		IdleTimeout:  cfg.SessionIdleTimeout,
		Secure:       cfg.IsProduction(),
		OnStoreWrite: a.Metrics.ObserveSessionWrite,
	}
	var store session.Store
	switch cfg.SessionStore {
	case "cookie":
		return session.NewCookie(a.Keys, opts), nil
	case "memory":
		store = session.NewMemoryStore()
	case "redis":
		store = session.NewRedisStore(a.Redis)
	default:
		var err error
		if store, err = session.NewDatabaseStore(a.DB); err != nil {
			return nil, err
		}
	}
	return session.NewSCS(store, opts), nil
}

// openMailer loads the mail templates and builds the Mailer: SMTP to
// MAIL_SERVER, or, without one, .eml files in MAIL_OUTBOX_DIR.
func (a *App) openMailer() (err error) {
	cfg := a.Config
	if a.MailTemplates, err = mail.NewTemplates(templates.FS); err != nil {
		return err
	}
	if cfg.MailServer != "" {
		a.Mailer = &mail.SMTP{Host: cfg.MailServer, Port: cfg.MailPort, Username: cfg.MailUsername, Password: cfg.MailPassword, Sender: cfg.MailDefaultSender}
		return nil
	}
	outbox := &mail.Outbox{Dir: cfg.MailOutboxDir, Sender: cfg.MailDefaultSender}
	if cfg.Env == config.EnvDevelopment {
		// LOG_LEVEL=debug shows each mailed link in the terminal.
		// Only here: anywhere else those links are secrets.
		outbox.LinkLog = a.Logger
	}
	a.Mailer = outbox
	return nil
}

// NewUsers returns the users service on d with its settings from cfg:
// the one place they are read, for the app and for manage alike.
func NewUsers(cfg *config.Config, d *db.DB) *users.Service {
	s := users.NewService(d)
	s.RequireConfirmedEmail = cfg.UserRequireConfirmedEmail
	s.AllowLocalSignIn = cfg.UserLDAPAllowLocal
	s.AppName = cfg.AppName
	s.RequiredRoles = cfg.MFARequiredRoles
	// Authenticator keys are sealed with a key derived from SECRET_KEY
	// (older keys from SECRET_KEY_FALLBACKS still open them), not bound to
	// BASE_URL: a move to another address must not lose them.
	if k, err := keyring.New(cfg.SecretKey, cfg.SecretKeyFallbacks, cfg.BaseURL); err == nil {
		s.Secrets = k.AtRestSealer(keyring.SecondFactor)
	}
	return s
}

// OpenDB opens DATABASE_URL with the configured timeouts and pool.
func OpenDB(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*db.DB, error) {
	d, err := db.OpenWith(ctx, cfg.DatabaseURL, logger, db.Timeouts{Connect: cfg.DatabaseConnectTimeout, Statement: cfg.DatabaseStatementTimeout})
	if err != nil {
		return nil, err
	}
	d.SetMaxConns(cfg.DatabaseMaxConns)
	return d, nil
}

// migrate applies pending migrations when AUTO_MIGRATE is on, and warns
// about them when it is off (production runs `manage migrate up` as a
// deploy step).
func (a *App) migrate(ctx context.Context) error {
	m, err := db.NewMigrator(a.DB, a.Logger)
	if err != nil {
		return err
	}
	if !a.Config.AutoMigrate {
		if pending, err := m.HasPending(ctx); err != nil {
			return err
		} else if pending {
			a.Logger.Warn("the database has pending migrations and AUTO_MIGRATE is off: run `manage migrate up`")
		}
		return nil
	}
	n, err := m.Up(ctx)
	if err != nil {
		return err
	}
	a.Logger.Info("database migrated", "applied", n, "dialect", a.DB.Dialect)
	return nil
}

// RunsJobsInProcess reports whether this process uses the embedded Redis
// and so must run the worker itself: nobody else can reach its queue.
func (a *App) RunsJobsInProcess() bool { return a.embedded != nil }

// Handlers are the task handlers on this container.
func (a *App) Handlers() *jobs.Handlers {
	return &jobs.Handlers{
		Mailer: a.Mailer, Logger: a.Logger, Metrics: a.Metrics,
		Users: a.Users, Templates: a.MailTemplates, AppName: a.Config.AppName, BaseURL: a.Config.BaseURL,
		Limits: a.Limits, Sessions: session.NewPurger(a.DB), SessionRegistry: a.SessionRegistry,
		Events: a.Events, SecurityLogRetention: a.Config.SecurityLogRetention, Files: a.Files,
		// scaffold:handlerswire
	}
}

// outboxInterval is how often the outbox relay retries rows Redis did not
// take.
const outboxInterval = 5 * time.Second

// StartOutbox relays the outbox in the background (web and worker run
// it) until the returned stop is called; stop waits for it to end.
func (a *App) StartOutbox(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Outbox.Run(ctx, outboxInterval)
	}()
	return func() {
		cancel()
		<-done
	}
}

// NewWorker builds the background worker on this container.
func (a *App) NewWorker() (*jobs.Worker, error) {
	opts := jobs.WorkerOptions{
		Concurrency:     a.Config.WorkerConcurrency,
		Scheduler:       !a.Config.DisableScheduler,
		ShutdownTimeout: a.Config.ShutdownTimeout,
		Logger:          a.Logger,
		OnTaskFailed: func(ctx context.Context, taskType, taskID string, err error) {
			// ctx carries the trace the task's headers brought, if any.
			a.Reports.Error(ctx, err, errreport.Info{Kind: "task", ID: taskID, Where: taskType})
			if taskType == alerts.TaskMail {
				return // an alert about an alert would only start a chain
			}
			a.Alerts.Report(ctx, alerts.Alert{Kind: "task", ID: taskID, Where: taskType, Err: err.Error()})
		},
	}
	return jobs.NewWorker(a.Redis, a.Handlers(), opts)
}

// Close releases everything New opened, in reverse order.
func (a *App) Close() {
	if c, ok := a.Storage.(io.Closer); ok {
		_ = c.Close()
	}
	if a.cacheRedis != nil {
		_ = a.cacheRedis.Close()
	}
	if a.Redis != nil {
		_ = a.Redis.Close()
	}
	if a.embedded != nil {
		a.embedded.Close()
	}
	if a.DB != nil {
		if err := a.DB.Close(); err != nil {
			a.Logger.Warn("close database", "err", err)
		}
	}
	// The reports still queued go out, within a bound.
	a.Reports.Close()
	// Last: the spans of everything above are exported before exit.
	if err := a.Telemetry.ShutdownOnExit(); err != nil {
		a.Logger.Warn("tracing: the last spans could not be exported", "err", err)
	}
}

// startTelemetry turns tracing on when the OTEL_* variables name an
// endpoint (internal/telemetry) for a process that has a name; its
// default service.name is the app's name and the process ("launchkit-web").
func (a *App) startTelemetry(ctx context.Context, process string) (*telemetry.Telemetry, error) {
	if process == "" {
		return &telemetry.Telemetry{}, nil
	}
	t, err := telemetry.Setup(ctx, telemetry.Options{Service: ServiceName(a.Config.AppName, process), Logger: a.Logger})
	if err != nil {
		return nil, err
	}
	if t.Enabled() {
		a.Logger.Info("tracing is on: spans go to the OTLP endpoint", "endpoint", t.Endpoint())
	}
	return t, nil
}

// ServiceName is a process's default service.name: the app's name in
// lower case with dashes, then the process ("My App", "web" → "my-app-web").
func ServiceName(appName, process string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(appName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if b.Len() > 0 && !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if name == "" {
		name = "app"
	}
	return name + "-" + process
}

// Describe is a one-line summary of what the process runs on, for the
// start-up log. It prints no credentials.
func (a *App) Describe() string {
	redisDesc := "embedded"
	if a.embedded == nil {
		redisDesc = config.RedactURL(a.Config.RedisURL)
	}
	desc := fmt.Sprintf("env=%s database=%s redis=%s sessions=%s", a.Config.Env, config.RedactURL(a.Config.DatabaseURL), redisDesc, a.Config.SessionStore)
	if a.Directory != nil {
		desc += " directory=" + a.Directory.Address()
	}
	return desc
}
