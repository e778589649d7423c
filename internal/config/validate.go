package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Problem is one invalid value: which key, from which layer, and why.
type Problem struct {
	Key     string
	Source  Source
	Message string
}

// Problems collects every problem of one load.
type Problems []Problem

func (p *Problems) add(key string, src Source, msg string) {
	*p = append(*p, Problem{Key: key, Source: src, Message: msg})
}

// Error is returned by Load when the configuration is unusable. Its text
// lists every problem, one per line, each with its key and layer.
type Error struct {
	Problems Problems
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	if len(e.Problems) == 1 {
		p := e.Problems[0]
		fmt.Fprintf(&b, " %s (from %s): %s", p.Key, p.Source, p.Message)
		return b.String()
	}
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s (from %s): %s", p.Key, p.Source, p.Message)
	}
	return b.String()
}

// MinSecurityLogRetention is the shortest SECURITY_LOG_RETENTION: the
// log is what an incident review reads, and a shorter one would purge
// yesterday's events at the next daily run.
const MinSecurityLogRetention = 24 * time.Hour

// DatabaseSchemes are the DATABASE_URL schemes Launchkit can open.
var DatabaseSchemes = []string{"sqlite", "postgres", "postgresql", "mysql"}

func validate(c *Config) Problems {
	var p Problems
	bad := func(key, msg string, args ...any) { p.add(key, c.sources[key], fmt.Sprintf(msg, args...)) }
	oneOf := func(key, value string, allowed ...string) {
		if !slices.Contains(allowed, value) {
			bad(key, "%s is not one of %s", c.show(key, value), strings.Join(allowed, ", "))
		}
	}

	oneOf("ENV", c.Env, EnvDevelopment, EnvTest, EnvProduction)
	if c.AppName == "" {
		bad("APP_NAME", "must not be empty")
	}
	if err := checkAddr(c.Addr); err != nil {
		bad("ADDR", "%s is not a host:port address: %v", c.show("ADDR", c.Addr), err)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("BASE_URL", "%s is not an http(s) URL", c.show("BASE_URL", c.BaseURL))
	}

	if scheme, _, ok := strings.Cut(c.DatabaseURL, "://"); !ok {
		bad("DATABASE_URL", "not a URL (expected sqlite://PATH, postgres://… or mysql://…)")
	} else if !slices.Contains(DatabaseSchemes, scheme) {
		bad("DATABASE_URL", "unknown scheme %q (expected one of %s)", scheme, strings.Join(DatabaseSchemes, ", "))
	} else if _, err := url.Parse(c.DatabaseURL); err != nil {
		bad("DATABASE_URL", "not a valid URL")
	}
	if c.DatabaseMaxConns < 1 {
		bad("DATABASE_MAX_CONNS", "must be at least 1")
	}
	if c.DatabaseConnectTimeout < time.Second {
		bad("DATABASE_CONNECT_TIMEOUT", "must be at least 1s")
	}
	if c.DatabaseStatementTimeout < 0 {
		bad("DATABASE_STATEMENT_TIMEOUT", "must not be negative")
	}
	if c.RequestTimeout <= 0 {
		bad("REQUEST_TIMEOUT", "must be positive")
	}
	if c.RedisURL != "" && !isRedisURL(c.RedisURL) {
		bad("REDIS_URL", "not a redis://, rediss:// or redis+sentinel:// URL")
	}

	oneOf("SESSION_STORE", c.SessionStore, "memory", "database", "redis", "cookie")
	if c.SessionLifetime <= 0 {
		bad("SESSION_LIFETIME", "must be positive")
	}
	if c.SessionIdleTimeout < 0 {
		bad("SESSION_IDLE_TIMEOUT", "must not be negative")
	}
	if !cookieName.MatchString(c.SessionCookieName) {
		bad("SESSION_COOKIE_NAME", "%s is not a valid cookie name", c.show("SESSION_COOKIE_NAME", c.SessionCookieName))
	}
	if c.SecurityLogRetention < MinSecurityLogRetention {
		bad("SECURITY_LOG_RETENTION", "must be at least 24h: the log is what an incident review reads")
	}
	if c.WorkerConcurrency < 1 {
		bad("WORKER_CONCURRENCY", "must be at least 1")
	}
	if c.MailPort < 1 || c.MailPort > 65535 {
		bad("MAIL_PORT", "%s is not a port (1-65535)", c.show("MAIL_PORT", strconv.Itoa(c.MailPort)))
	}
	if c.MailDefaultSender == "" {
		bad("MAIL_DEFAULT_SENDER", "must not be empty")
	}
	if c.MailServer == "" && c.MailOutboxDir == "" {
		bad("MAIL_OUTBOX_DIR", "must be set when MAIL_SERVER is empty")
	}
	oneOf("LOG_LEVEL", strings.ToLower(c.LogLevel), "debug", "info", "warn", "error")
	oneOf("LOG_FORMAT", c.LogFormat, "text", "json")
	for _, origin := range c.TrustedOrigins {
		if u, err := url.Parse(origin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			bad("TRUSTED_ORIGINS", "%s is not an origin like https://example.com", c.show("TRUSTED_ORIGINS", origin))
		}
	}
	if c.TrustedProxyHeader != "" {
		oneOf("TRUSTED_PROXY_HEADER", c.TrustedProxyHeader, "X-Forwarded-For", "Forwarded")
	} else if len(c.TrustedProxies) > 0 {
		// No default: a proxy passes on the header it does not write as
		// the client sent it, so guessing the wrong one would let clients
		// choose their address.
		bad("TRUSTED_PROXIES", "needs TRUSTED_PROXY_HEADER: the header your proxies write, X-Forwarded-For or Forwarded")
	}
	for _, p := range c.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			bad("TRUSTED_PROXIES", "%s is not a CIDR like 10.0.0.0/8 or an address", c.show("TRUSTED_PROXIES", p))
		}
	}
	if c.MetricsAddr != "" {
		if err := checkAddr(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR", "%s is not a host:port address: %v", c.show("METRICS_ADDR", c.MetricsAddr), err)
		}
	}
	if c.DebugAddr != "" {
		if err := checkAddr(c.DebugAddr); err != nil {
			bad("DEBUG_ADDR", "%s is not a host:port address: %v", c.show("DEBUG_ADDR", c.DebugAddr), err)
		}
	}
	if c.SentryDSN != "" {
		if msg := checkSentryDSN(c.SentryDSN); msg != "" {
			bad("SENTRY_DSN", "%s", msg)
		}
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive")
	}
	for _, a := range c.Admins {
		if addr, err := mail.ParseAddress(a); err != nil || addr.Name != "" {
			bad("ADMINS", "%s is not an email address like ops@example.com", c.show("ADMINS", a))
		}
	}
	for _, r := range c.MFARequiredRoles {
		if !roleName(r) {
			bad("MFA_REQUIRED_ROLES", "%q is not a role name: lower-case letters, digits, - and _", r)
		}
	}
	validateStorage(c, oneOf, bad)
	if c.CacheType != "" {
		oneOf("CACHE_TYPE", c.CacheType, "memory", "redis")
	}
	if c.CacheURL != "" && !isRedisURL(c.CacheURL) {
		bad("CACHE_URL", "not a redis://, rediss:// or redis+sentinel:// URL")
	}
	if c.CacheExpire <= 0 {
		bad("CACHE_EXPIRE", "must be positive")
	}
	if c.ShutdownDrainDelay < 0 {
		bad("SHUTDOWN_DRAIN_DELAY", "must not be negative")
	}
	if c.UserLDAP {
		validateLDAP(c, bad)
	}
	validateOIDC(c, bad)
	if c.AWSSecretsTimeout <= 0 {
		bad("AWS_SECRETS_TIMEOUT", "must be positive")
	}

	if strings.Contains(c.SecretKey, ",") {
		bad("SECRET_KEY", "must not contain a comma: once rotated it goes into SECRET_KEY_FALLBACKS, a comma list")
	}
	if c.IsProduction() {
		if len(c.SecretKey) < 32 {
			bad("SECRET_KEY", "ENV=production needs a SECRET_KEY of at least 32 bytes")
		}
		for _, k := range c.SecretKeyFallbacks {
			if len(k) < 32 {
				bad("SECRET_KEY_FALLBACKS", "ENV=production needs each older key to be at least 32 bytes, as SECRET_KEY is")
			}
		}
		if c.RedisURL == "" {
			bad("REDIS_URL", "ENV=production needs a Redis server for jobs")
		}
		if strings.HasPrefix(c.DatabaseURL, "sqlite:") && !c.AllowSQLiteInProduction {
			bad("DATABASE_URL", "ENV=production needs PostgreSQL or MySQL (or ALLOW_SQLITE_IN_PRODUCTION=true)")
		}
	}
	return p
}

// show quotes a value for a problem message, unless it came from the
// secret layer or belongs to a sensitive key: those are never printed.
func (c *Config) show(key, value string) string {
	if keyIndex[key].Sensitive || c.sources[key].IsSecret() {
		return "the value"
	}
	return strconv.Quote(RedactURL(value))
}

// checkAddr's errors do not repeat the address; the caller decides
// whether it may be shown.
// ParsePrefix reads a TRUSTED_PROXIES entry: a CIDR, or one address.
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// cookieName is a cookie name as RFC 6265 allows it (an RFC 7230 token):
// browsers drop a Set-Cookie whose name has anything else, so sign-in
// would silently never stick.
var cookieName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err)
		}
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("the port is not a number from 0 to 65535")
	}
	return nil
}

// ldapName is an LDAP attribute or object class name, optionally with a
// matching rule (member:1.2.840.113556.1.4.1941: asks Active Directory
// for nested groups): never filter syntax.
var ldapName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*(:[0-9.]+:)?$`)

func validateLDAP(c *Config, bad func(key, msg string, args ...any)) {
	if strings.TrimSpace(c.LDAPHost) == "" {
		bad("LDAP_HOST", "must be set with USER_LDAP=true")
	} else if _, err := LDAPURL(c.LDAPHost); err != nil {
		bad("LDAP_HOST", "%s: %v", c.show("LDAP_HOST", c.LDAPHost), err)
	} else if u, _ := LDAPURL(c.LDAPHost); c.LDAPStartTLS && strings.HasPrefix(u, "ldaps://") {
		bad("LDAP_START_TLS", "StartTLS is for ldap:// hosts; an ldaps:// connection is encrypted from the start")
	} else if c.IsProduction() && !c.LDAPStartTLS && strings.HasPrefix(u, "ldap://") && !loopbackURL(u) {
		// Every sign-in sends a password to the directory.
		bad("LDAP_HOST", "ENV=production sends passwords to the directory: use ldaps:// or LDAP_START_TLS=true (plain ldap:// only to a loopback address)")
	}
	if c.LDAPTimeout <= 0 {
		bad("LDAP_TIMEOUT", "must be positive")
	}
	for _, kv := range [][2]string{{"LDAP_BIND_DN", c.LDAPBindDN}, {"LDAP_USER_BASE", c.LDAPUserBase}, {"LDAP_GROUP_BASE", c.LDAPGroupBase}} {
		key, dn := kv[0], kv[1]
		if dn == "" {
			if key != "LDAP_BIND_DN" {
				bad(key, "must be set with USER_LDAP=true")
			}
			continue
		}
		if _, err := ldap.ParseDN(dn); err != nil {
			bad(key, "%s is not a DN like ou=people,dc=example,dc=org", c.show(key, dn))
		}
	}
	if c.LDAPBindDN != "" && c.LDAPBindPassword == "" {
		bad("LDAP_BIND_PASSWORD", "must be set with LDAP_BIND_DN")
	}
	for _, kv := range [][2]string{
		{"LDAP_USERNAME_ATTRIBUTE", c.LDAPUsernameAttribute}, {"LDAP_USER_OBJECT_CLASS", c.LDAPUserObjectClass},
		{"LDAP_EMAIL_ATTRIBUTE", c.LDAPEmailAttribute}, {"LDAP_GROUP_OBJECT_CLASS", c.LDAPGroupObjectClass},
		{"LDAP_GROUP_ATTRIBUTE", c.LDAPGroupAttribute},
	} {
		key, name := kv[0], kv[1]
		if !ldapName.MatchString(name) {
			bad(key, "%s is not an LDAP attribute or object class name", c.show(key, name))
		}
	}
}

// isRedisURL reports whether s is a redis://, rediss:// or
// redis+sentinel:// URL (REDIS_URL, CACHE_URL).
func isRedisURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "redis" || u.Scheme == "rediss" || u.Scheme == "redis+sentinel")
}

// LDAPURL reads LDAP_HOST: ldap://host[:port], ldaps://host[:port], or
// a bare host[:port], which means ldap://; a missing port is 389 (ldap)
// or 636 (ldaps). Its errors do not repeat the value.
func LDAPURL(host string) (string, error) {
	host = strings.TrimSpace(host)
	if !strings.Contains(host, "://") {
		host = "ldap://" + host
	}
	u, err := url.Parse(host)
	if err != nil || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", errors.New("not ldap://host[:port], ldaps://host[:port] or a bare host")
	}
	port := map[string]string{"ldap": "389", "ldaps": "636"}[u.Scheme]
	if port == "" {
		return "", errors.New("the scheme must be ldap:// or ldaps://")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errors.New("the port is not a number from 1 to 65535")
		}
		port = p
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port), nil
}

// loopbackURL reports whether the URL's host is a loopback address or
// localhost: traffic that never leaves the machine.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(u.Hostname())
	return err == nil && a.IsLoopback()
}

// roleName reports whether r can name a role: 1 to 64 lower-case ASCII
// letters, digits, hyphens and underscores.
func roleName(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for _, c := range r {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// validateStorage checks the keys of uploaded files' storage.
func validateStorage(c *Config, oneOf func(key, v string, allowed ...string), bad func(key, format string, args ...any)) {
	oneOf("STORAGE_BACKEND", c.StorageBackend, "local", "s3")
	if c.UploadMaxBytes < 1 {
		bad("UPLOAD_MAX_BYTES", "must be at least 1 byte")
	}
	if c.StorageBackend == "local" && strings.TrimSpace(c.StorageDir) == "" {
		bad("STORAGE_DIR", "must be set when STORAGE_BACKEND is local")
	}
	if c.StorageBackend != "s3" {
		return
	}
	if int64(c.UploadMaxBytes) > maxS3PutBytes {
		bad("UPLOAD_MAX_BYTES", "must be at most 5 GiB (5368709120) with STORAGE_BACKEND=s3: a file is stored in one PutObject request")
	}
	if c.S3Bucket == "" {
		bad("S3_BUCKET", "must be set when STORAGE_BACKEND is s3")
	} else if !s3Bucket.MatchString(c.S3Bucket) {
		bad("S3_BUCKET", "%s is not a bucket name (3-63 lower-case letters, digits, dots and hyphens)", c.show("S3_BUCKET", c.S3Bucket))
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		// A password or a signed query may be in such an endpoint, or
		// in one that does not parse (https://key:secret): it is not
		// repeated, for RedactURL only hides a well-formed user info.
		secretive := err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(c.S3Endpoint, "@")
		if secretive || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			shown := c.show("S3_ENDPOINT", c.S3Endpoint)
			if secretive {
				shown = "the value"
			}
			bad("S3_ENDPOINT", "%s is not a URL like https://minio.example.com:9000 (no user, password or query: credentials come from the AWS SDK's chain)", shown)
		}
	}
	if c.S3Region != "" && !s3Region.MatchString(c.S3Region) {
		bad("S3_REGION", "%s is not a region name like eu-west-1", c.show("S3_REGION", c.S3Region))
	}
	if p := c.S3Prefix; p != "" && (strings.HasPrefix(p, "/") || strings.Contains(p, "//") || slices.Contains(strings.Split(p, "/"), "..") || !s3Prefix.MatchString(p)) {
		bad("S3_PREFIX", "%s is not a key prefix like launchkit/ (letters, digits, - _ . /; no leading /, no ..)", c.show("S3_PREFIX", p))
	}
}

// maxS3PutBytes is the largest object one S3 PutObject request stores.
const maxS3PutBytes = 5 << 30

var (
	s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	s3Region = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	s3Prefix = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,200}$`)
)

// checkSentryDSN says what is wrong with a SENTRY_DSN, or "" when it is a
// DSN the Sentry SDK accepts: http(s)://PUBLIC_KEY@host[:port][/path]/PROJECT.
// The messages never quote the value: the DSN is a secret, and url.Parse's
// own errors would.
func checkSentryDSN(dsn string) string {
	const shape = "(expected https://PUBLIC_KEY@host/PROJECT_ID, as the error tracker's project settings show it)"
	u, err := url.Parse(dsn)
	switch {
	case err != nil:
		return "not a URL " + shape
	case u.Scheme != "http" && u.Scheme != "https":
		return "not an http:// or https:// URL " + shape
	case u.User == nil || u.User.Username() == "":
		return "lacks the public key before the @ " + shape
	case u.Hostname() == "":
		return "lacks a host " + shape
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment " + shape
	}
	if _, project := path.Split(u.Path); project == "" {
		return "lacks the project ID at the end of its path " + shape
	}
	return ""
}
