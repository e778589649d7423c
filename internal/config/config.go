// Package config owns Launchkit's configuration: the keys, their built-in
// defaults, the layers they are read from (defaults → file → secret → env,
// later wins), typing, validation, the source of every effective value, and
// redaction of the values that must never be printed.
//
// Every key is a field of Config. Its struct tags are the single place that
// documents it:
//
//	key:"NAME"          the key, the same in every layer
//	default:"..."       the built-in default (development-friendly)
//	production:"..."    the default when ENV=production, if it differs
//	help:"..."          one line for the key table (docs/configuration.md) and `manage config`
//	sensitive:"true"    never printed (also implied by *_PASSWORD, *_KEY, *_SECRET)
package config

import (
	"strings"
	"time"
)

// Environments Launchkit knows.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
	EnvTest        = "test"
)

// Config is the whole effective configuration of one process.
type Config struct {
	Env     string `key:"ENV" default:"development" help:"development, test or production; production turns on the strict rules"`
	AppName string `key:"APP_NAME" default:"Launchkit" help:"product name shown in pages and mail"`
	Addr    string `key:"ADDR" default:":8000" help:"host:port the web server listens on"`
	BaseURL string `key:"BASE_URL" default:"http://localhost:8000" help:"public URL of the site, used in links in mail"`

	SecretKey          string   `key:"SECRET_KEY" sensitive:"true" help:"the key the cookies are signed and encrypted with (the session with SESSION_STORE=cookie, the device cookie), each through a key derived for its purpose and this BASE_URL; at least 32 bytes in production; random per start in development"`
	SecretKeyFallbacks []string `key:"SECRET_KEY_FALLBACKS" sensitive:"true" help:"comma list of older SECRET_KEYs whose cookies still read (a session cookie is re-made with SECRET_KEY at its next request): rotation without signing everyone out"`

	DatabaseURL              string        `key:"DATABASE_URL" default:"sqlite://data/app.db" help:"sqlite://PATH, postgres://… or mysql://…"`
	AllowSQLiteInProduction  bool          `key:"ALLOW_SQLITE_IN_PRODUCTION" default:"false" help:"permit a SQLite DATABASE_URL when ENV=production"`
	DatabaseMaxConns         int           `key:"DATABASE_MAX_CONNS" default:"10" help:"most connections a process opens to PostgreSQL or MySQL, all kept open when idle (SQLite: one writer and a few readers per CPU)"`
	DatabaseConnectTimeout   time.Duration `key:"DATABASE_CONNECT_TIMEOUT" default:"5s" help:"how long opening a connection to PostgreSQL or MySQL may take"`
	DatabaseStatementTimeout time.Duration `key:"DATABASE_STATEMENT_TIMEOUT" default:"30s" help:"longest a PostgreSQL statement may run (statement_timeout), or a MySQL connection wait for an answer; 0 for no limit"`
	AutoMigrate              bool          `key:"AUTO_MIGRATE" default:"true" production:"false" help:"apply pending migrations when the web process starts"`
	RedisURL                 string        `key:"REDIS_URL" help:"redis://… (or redis+sentinel://host:26379,…/master/db) for jobs, sessions and limits; empty in development runs an embedded in-memory Redis"`
	CacheType                string        `key:"CACHE_TYPE" help:"memory (this process) or redis (shared by every process); empty: redis when REDIS_URL is set in production, memory otherwise"`
	CacheURL                 string        `key:"CACHE_URL" help:"redis://… for CACHE_TYPE=redis, when not REDIS_URL's server"`
	CacheExpire              time.Duration `key:"CACHE_EXPIRE" default:"5m" help:"how long a cached value is kept unless its use says otherwise"`

	SessionStore       string        `key:"SESSION_STORE" default:"database" help:"memory, database, redis, or cookie (the whole session in an encrypted, signed cookie)"`
	SessionLifetime    time.Duration `key:"SESSION_LIFETIME" default:"24h" help:"absolute session lifetime"`
	SessionIdleTimeout time.Duration `key:"SESSION_IDLE_TIMEOUT" default:"2h" help:"sign out after this long without a request (0 disables)"`
	SessionCookieName  string        `key:"SESSION_COOKIE_NAME" default:"session" help:"name of the session cookie"`

	WorkerConcurrency int  `key:"WORKER_CONCURRENCY" default:"10" help:"tasks a worker runs at once"`
	DisableScheduler  bool `key:"DISABLE_SCHEDULER" default:"false" help:"do not run the periodic-task scheduler in this process"`

	MailServer        string   `key:"MAIL_SERVER" help:"SMTP host; empty writes mail as .eml files to MAIL_OUTBOX_DIR"`
	MailPort          int      `key:"MAIL_PORT" default:"587" help:"SMTP port"`
	MailUsername      string   `key:"MAIL_USERNAME" help:"SMTP user name"`
	MailPassword      string   `key:"MAIL_PASSWORD" sensitive:"true" help:"SMTP password"`
	MailDefaultSender string   `key:"MAIL_DEFAULT_SENDER" default:"Launchkit <noreply@localhost>" help:"From address of outgoing mail"`
	MailOutboxDir     string   `key:"MAIL_OUTBOX_DIR" default:"data/outbox" help:"where the development mailer writes .eml files"`
	Admins            []string `key:"ADMINS" help:"comma list of addresses that get error mail (EMAIL_ERRORS)"`
	EmailErrors       bool     `key:"EMAIL_ERRORS" default:"false" production:"true" help:"mail ADMINS every 500, panic and task that ran out of retries (identical ones at most every 10 minutes)"`

	UserEnableRegister        bool `key:"USER_ENABLE_REGISTER" default:"true" help:"allow visitors to register"`
	UserRequireConfirmedEmail bool `key:"USER_REQUIRE_CONFIRMED_EMAIL" default:"false" help:"require a confirmed address before sign-in"`

	// Directory sign-in (docs/directory-sign-in.md).
	UserLDAP              bool          `key:"USER_LDAP" default:"false" help:"sign users in against an LDAP directory or Active Directory (the LDAP_* keys); see docs/directory-sign-in.md"`
	UserLDAPAllowLocal    bool          `key:"USER_LDAP_ALLOW_LOCAL" default:"false" help:"with USER_LDAP, let local accounts (not from the directory, e.g. a break-glass admin made with manage) sign in too"`
	LDAPHost              string        `key:"LDAP_HOST" help:"ldap://host:389, ldaps://host:636 or a bare host (ldap://, port 389)"`
	LDAPStartTLS          bool          `key:"LDAP_START_TLS" default:"false" help:"upgrade an ldap:// connection with StartTLS before binding; production needs it or ldaps:// (unless the host is loopback)"`
	LDAPCAFile            string        `key:"LDAP_CA_FILE" help:"PEM file of CA certificates trusted for ldaps:// and StartTLS, besides the system's"`
	LDAPTimeout           time.Duration `key:"LDAP_TIMEOUT" default:"5s" help:"how long connecting to the directory, and each request to it, may take"`
	LDAPBindDN            string        `key:"LDAP_BIND_DN" help:"DN of the service account that searches users and groups (empty: anonymous search)"`
	LDAPBindPassword      string        `key:"LDAP_BIND_PASSWORD" sensitive:"true" help:"password of LDAP_BIND_DN"`
	LDAPUsernameAttribute string        `key:"LDAP_USERNAME_ATTRIBUTE" default:"uid" help:"attribute users sign in with: uid (OpenLDAP) or sAMAccountName (Active Directory)"`
	LDAPUserBase          string        `key:"LDAP_USER_BASE" help:"DN under which users are searched, e.g. ou=people,dc=example,dc=org"`
	LDAPUserObjectClass   string        `key:"LDAP_USER_OBJECT_CLASS" default:"person" help:"object class of user entries"`
	LDAPEmailAttribute    string        `key:"LDAP_EMAIL_ATTRIBUTE" default:"mail" help:"attribute holding a user's email address"`
	LDAPGroupBase         string        `key:"LDAP_GROUP_BASE" help:"DN under which groups are searched (with memberOf: only groups under it count)"`
	LDAPGroupObjectClass  string        `key:"LDAP_GROUP_OBJECT_CLASS" default:"groupOfNames" help:"object class of group entries: groupOfNames, posixGroup, group (AD)"`
	LDAPGroupAttribute    string        `key:"LDAP_GROUP_ATTRIBUTE" default:"member" help:"group attribute naming members: member or uniqueMember (user DNs), memberUid (usernames), or memberOf to read the user's own memberOf"`
	LDAPGroupToRoleAdmin  []string      `key:"LDAP_GROUP_TO_ROLE_ADMIN" help:"comma list of group names (cn) whose members get the admin role"`
	LDAPGroupToRoleDev    []string      `key:"LDAP_GROUP_TO_ROLE_DEV" help:"comma list of group names (cn) whose members get the dev role"`
	LDAPGroupToRoleUser   []string      `key:"LDAP_GROUP_TO_ROLE_USER" help:"comma list of group names (cn) whose members may sign in; empty: every directory user may"`

	// Single sign-on (docs/single-sign-on.md).
	OIDCProviders []OIDCProvider `key:"OIDC_PROVIDERS" help:"OpenID Connect providers users may sign in through: a YAML list in the config file, a JSON list in the environment or the secret; each with name, label, issuer, client_id, client_secret (never printed), scopes, allowed_domains, allow_signup, trust_email, groups_claim, roles; see docs/single-sign-on.md"`

	// Second factors (docs/two-step-sign-in.md).
	MFARequiredRoles []string `key:"MFA_REQUIRED_ROLES" help:"comma list of roles whose holders must set up a second factor (an authenticator app or a passkey) before they can use the site: admin is the usual choice; admins hold every role, so user means everyone"`

	// Uploaded files (docs/file-uploads.md).
	StorageBackend string `key:"STORAGE_BACKEND" default:"local" help:"where uploaded files are kept: local (a directory, STORAGE_DIR; one server, or a volume every web and worker process mounts) or s3 (an S3 bucket, or an S3-compatible store through S3_ENDPOINT)"`
	StorageDir     string `key:"STORAGE_DIR" default:"data/uploads" help:"directory of STORAGE_BACKEND=local; the web process serves its files after checking access"`
	S3Bucket       string `key:"S3_BUCKET" help:"bucket of STORAGE_BACKEND=s3; credentials come from the AWS SDK's default chain (environment, shared files, instance or task role)"`
	S3Region       string `key:"S3_REGION" help:"region of S3_BUCKET; empty uses the AWS SDK's chain (AWS_REGION), or us-east-1 with S3_ENDPOINT"`
	S3Endpoint     string `key:"S3_ENDPOINT" help:"URL of an S3-compatible store (MinIO, Cloudflare R2, Backblaze B2…), addressed path-style; empty is Amazon S3"`
	S3Prefix       string `key:"S3_PREFIX" help:"key prefix every object of this app is stored under in S3_BUCKET, e.g. launchkit/ (lets apps share a bucket)"`
	UploadMaxBytes int    `key:"UPLOAD_MAX_BYTES" default:"10485760" help:"largest file one upload may hold, in bytes (10485760 is 10 MiB); a bigger one is refused with 413 as soon as it passes the limit"`

	LogLevel  string `key:"LOG_LEVEL" default:"info" help:"debug, info, warn or error"`
	LogFormat string `key:"LOG_FORMAT" default:"text" production:"json" help:"text or json"`
	// SecurityLogRetention is how long security events are kept before
	// the daily security-log:purge task deletes them.
	SecurityLogRetention time.Duration `key:"SECURITY_LOG_RETENTION" default:"2160h" help:"how long security events (sign-ins, account changes) are kept before the daily purge deletes them: 2160h is 90 days; at least 24h"`

	TrustedOrigins     []string `key:"TRUSTED_ORIGINS" help:"comma list of other origins (https://host[:port]) allowed to post forms here cross-origin"`
	TrustedProxies     []string `key:"TRUSTED_PROXIES" help:"comma list of CIDRs (or addresses) of reverse proxies whose TRUSTED_PROXY_HEADER gives the client's address"`
	TrustedProxyHeader string   `key:"TRUSTED_PROXY_HEADER" help:"the header those proxies write, X-Forwarded-For or Forwarded; required with TRUSTED_PROXIES (only that one is read: a client could send the other)"`

	MetricsToken string `key:"METRICS_TOKEN" help:"when set, GET /metrics on ADDR requires Authorization: Bearer <token>; in production /metrics is served on ADDR only with it"`
	MetricsAddr  string `key:"METRICS_ADDR" help:"host:port of a separate listener serving only /metrics, without a token (keep it private); a bare :port listens on every interface, so that Prometheus on another host can scrape it: give the private address (10.0.0.5:9100) or firewall the port. ADDR then does not serve /metrics. A worker given one serves its metrics (the tasks it runs) there"`
	DebugAddr    string `key:"DEBUG_ADDR" help:"host:port of a separate listener serving only Go's runtime profiles (net/http/pprof, under /debug/pprof/); off when empty; a bare :port listens on loopback only (write 0.0.0.0:port to open it wider: the profiles show the process's memory and stacks)"`

	// SentryDSN is where error reports go (internal/errreport): the
	// project's address and its public key, which lets anyone holding it
	// post reports to the project, so it is kept like a password.
	SentryDSN string `key:"SENTRY_DSN" sensitive:"true" help:"DSN of a Sentry-compatible error tracker (Sentry, GlitchTip, Bugsink), https://KEY@host/PROJECT: every panic, 500 and task out of retries is reported to it with its request or task ID, trace ID, route or task type and user ID, scrubbed of secrets, beside the admins' mail; off when empty"`

	ShutdownTimeout time.Duration `key:"SHUTDOWN_TIMEOUT" default:"15s" help:"how long SIGTERM waits for in-flight requests and tasks"`
	// ShutdownDrainDelay is how long a web process, on SIGTERM, keeps
	// serving while /readyz answers 503, so that the load balancer takes
	// it out of rotation before it stops accepting.
	ShutdownDrainDelay time.Duration `key:"SHUTDOWN_DRAIN_DELAY" default:"0s" production:"5s" help:"on SIGTERM, how long the web process keeps serving with /readyz at 503 before it stops accepting (let the load balancer notice)"`
	RequestTimeout     time.Duration `key:"REQUEST_TIMEOUT" default:"15s" help:"deadline of a request's work (database, Redis): past it the request is answered 503"`

	AWSSecretsManagerConfig string        `key:"AWS_SECRETS_MANAGER_CONFIG" help:"name or ARN of an AWS Secrets Manager secret holding config keys"`
	AWSSecretsRegion        string        `key:"AWS_SECRETS_REGION" help:"region of that secret; empty uses the AWS SDK's chain"`
	AWSSecretsVersionStage  string        `key:"AWS_SECRETS_VERSION_STAGE" default:"AWSCURRENT" help:"staging label of the secret version to read"`
	AWSSecretsVersionID     string        `key:"AWS_SECRETS_VERSION_ID" help:"exact secret version to read (wins over the stage)"`
	AWSSecretsTimeout       time.Duration `key:"AWS_SECRETS_TIMEOUT" default:"10s" help:"how long start-up waits for the secret"`

	// GeneratedSecretKey is true when SECRET_KEY was not configured and a
	// random one was made for this development start.
	GeneratedSecretKey bool `key:"-"`
	// Warnings are problems that do not stop start-up (unknown keys), for
	// the caller to log once a logger exists.
	Warnings []string `key:"-"`

	sources map[string]Source
	secrets []string
}

// IsProduction reports whether ENV=production.
func (c *Config) IsProduction() bool { return c.Env == EnvProduction }

// Source says which layer a key's effective value came from.
func (c *Config) Source(key string) Source { return c.sources[key] }

// SecretValues returns the values that must never be printed: every value
// from the secret layer and every sensitive key's value. Logging uses it
// as a last line of defence.
func (c *Config) SecretValues() []string { return c.secrets }

// DebugListenAddr is where DEBUG_ADDR listens: a bare :port (no host) is
// on loopback, 127.0.0.1:port, unlike ADDR's, so that the profiles are
// not opened to the network by accident. Empty when off.
func (c *Config) DebugListenAddr() string {
	if strings.HasPrefix(c.DebugAddr, ":") {
		return "127.0.0.1" + c.DebugAddr
	}
	return c.DebugAddr
}
