// Package directory signs users in against a company directory over LDAP
// (OpenLDAP, Active Directory, FreeIPA…): it finds the user with the
// service account, binds as them to check the password, and reads their
// email address and groups, which it maps to roles (USER_LDAP and the
// LDAP_* keys). It knows nothing about local accounts; internal/users
// turns an Account into one.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/text/unicode/norm"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/telemetry"
)

// Errors of Authenticate and Lookup, wrapped with context; test for them
// with errors.Is. None carries a password.
var (
	// ErrNoSuchUser: no entry of the user object class has that username
	// under the user base (or more than one has: the directory is
	// ambiguous and nobody signs in as either).
	ErrNoSuchUser = errors.New("no such directory user")
	// ErrWrongPassword: the directory refused the user's bind, or the
	// password was empty (never sent: an empty password is an anonymous
	// bind, which many directories accept).
	ErrWrongPassword = errors.New("wrong directory password")
	// ErrUnavailable: the directory could not be reached or answered
	// with an error, or refused the service account.
	ErrUnavailable = errors.New("the directory is unavailable")
	// ErrNoEmail: the user's entry has no email address
	// (LDAP_EMAIL_ATTRIBUTE), which every account needs.
	ErrNoEmail = errors.New("the directory entry has no email address")
	// ErrNoRole: LDAP_GROUP_TO_ROLE_USER is set and the user is in none
	// of the groups that give a role.
	ErrNoRole = errors.New("the directory user is in no group allowed to sign in")
)

// connectionTimeouts is how many LDAP_TIMEOUTs one connection may last in
// all: dial, StartTLS, binds and searches.
const connectionTimeouts = 6

// maxUsernameLen bounds what is sent to the directory.
const maxUsernameLen = 256

// Roles the group mapping gives, as internal/users names them.
const (
	roleAdmin = "admin"
	roleDev   = "dev"
	roleUser  = "user"
)

// Account is what the directory says of a user.
type Account struct {
	// Username is the value of LDAP_USERNAME_ATTRIBUTE, as stored in
	// the directory.
	Username string
	DN       string
	Email    string
	// Name is the display name (displayName, else cn); may be empty.
	Name string
	// Groups are the names (cn) of the user's groups that give a role
	// (LDAP_GROUP_TO_ROLE_*), lower-cased and sorted.
	Groups []string
	// Roles are the roles the groups map to, sorted: admin, dev, user.
	// "user" is among them whenever the user may sign in; with ErrNoRole
	// they are empty.
	Roles []string
}

// Client talks to one directory. Each call opens its own connection:
// sign-ins are rare next to page views, and a connection held open is one
// a directory or firewall may drop without telling.
type Client struct {
	url        string
	startTLS   bool
	timeout    time.Duration
	tls        *tls.Config
	bindDN     string
	bindPass   string
	userAttr   string
	userBase   string
	userClass  string
	emailAttr  string
	groupBase  string
	groupClass string
	groupAttr  string
	roleGroups map[string][]string  // role → group names, lower-cased
	spanAttrs  []attribute.KeyValue // the server, on each call's span
}

// New returns a client for the LDAP_* keys of cfg (nil, nil when
// USER_LDAP is off). It does not connect: Ping does.
func New(cfg *config.Config) (*Client, error) {
	if !cfg.UserLDAP {
		return nil, nil
	}
	u, err := config.LDAPURL(cfg.LDAPHost)
	if err != nil {
		return nil, fmt.Errorf("LDAP_HOST: %w", err)
	}
	parsed, _ := url.Parse(u)
	spanAttrs := []attribute.KeyValue{attribute.String("server.address", parsed.Hostname())}
	if port, err := strconv.Atoi(parsed.Port()); err == nil {
		spanAttrs = append(spanAttrs, attribute.Int("server.port", port))
	}
	tc := &tls.Config{ServerName: parsed.Hostname(), MinVersion: tls.VersionTLS12}
	if cfg.LDAPCAFile != "" {
		pem, err := os.ReadFile(cfg.LDAPCAFile)
		if err != nil {
			return nil, fmt.Errorf("LDAP_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LDAP_CA_FILE: %s holds no PEM certificate", cfg.LDAPCAFile)
		}
		tc.RootCAs = pool
	}
	c := &Client{
		url: u, startTLS: cfg.LDAPStartTLS, timeout: cfg.LDAPTimeout, tls: tc,
		bindDN: cfg.LDAPBindDN, bindPass: cfg.LDAPBindPassword,
		userAttr: cfg.LDAPUsernameAttribute, userBase: cfg.LDAPUserBase, userClass: cfg.LDAPUserObjectClass,
		emailAttr: cfg.LDAPEmailAttribute,
		groupBase: cfg.LDAPGroupBase, groupClass: cfg.LDAPGroupObjectClass, groupAttr: cfg.LDAPGroupAttribute,
		roleGroups: map[string][]string{
			roleAdmin: lower(cfg.LDAPGroupToRoleAdmin),
			roleDev:   lower(cfg.LDAPGroupToRoleDev),
			roleUser:  lower(cfg.LDAPGroupToRoleUser),
		},
		spanAttrs: spanAttrs,
	}
	return c, nil
}

func lower(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Authenticate checks username's password with the directory and returns
// what it says of the user. A wrong password is ErrWrongPassword and an
// unknown user ErrNoSuchUser; the caller should not tell the two apart to
// the person signing in.
func (c *Client) Authenticate(ctx context.Context, username, password string) (*Account, error) {
	if password == "" {
		return nil, fmt.Errorf("directory sign-in: %w", ErrWrongPassword)
	}
	return c.lookup(ctx, username, func(conn *ldap.Conn, entry *ldap.Entry) error {
		if err := c.bind(ctx, conn, "user", entry.DN, password); err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				return fmt.Errorf("directory sign-in of %s: %w", username, ErrWrongPassword)
			}
			return fmt.Errorf("directory sign-in of %s: bind as the user: %w: %w", username, ErrUnavailable, err)
		}
		// Back to the service account: the user may not be allowed to
		// read the groups.
		return c.serviceBind(ctx, conn)
	})
}

// Lookup finds username with the service account and returns what the
// directory says of them, without their password: what `manage ldap
// check` shows an operator.
func (c *Client) Lookup(ctx context.Context, username string) (*Account, error) {
	return c.lookup(ctx, username, nil)
}

// lookup finds username's entry with the service account, runs check on
// it (when set) and reads the account.
func (c *Client) lookup(ctx context.Context, username string, check func(*ldap.Conn, *ldap.Entry) error) (*Account, error) {
	if !validUsername(username) {
		return nil, fmt.Errorf("find directory user: %w", ErrNoSuchUser)
	}
	conn, done, err := c.serviceConn(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	entry, err := c.findUser(ctx, conn, username)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(conn, entry); err != nil {
			return nil, err
		}
	}
	return c.account(ctx, conn, entry)
}

// Ping connects and binds with the service account: whether sign-ins can
// work at all.
func (c *Client) Ping(ctx context.Context) error {
	_, done, err := c.serviceConn(ctx)
	if err != nil {
		return err
	}
	done()
	return nil
}

// Address is the directory's URL, for logs and `manage ldap check`.
func (c *Client) Address() string { return c.url }

// Key is a username as the directory compares it (the string
// preparation of RFC 4518, near enough): compatibility characters
// unified (NFKC: fullwidth, circled and other forms of a letter are the
// letter), format characters dropped, lower case, spaces trimmed and runs
// of them made one. Names with the same Key are one directory user: one
// account here, one guessing budget.
func Key(username string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Cf, r):
			return -1
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, norm.NFKC.String(username))
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

func validUsername(s string) bool {
	return s != "" && len(s) <= maxUsernameLen && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// serviceConn connects (with StartTLS when asked) and binds as the
// service account, all within the timeout and ctx; done closes the
// connection.
func (c *Client) serviceConn(ctx context.Context) (conn *ldap.Conn, done func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("connect to the directory: %w", err)
	}
	timeout := c.timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	// A sign-in is a handful of requests: together they get a few
	// timeouts, which also bounds what has no timeout of its own (the
	// StartTLS handshake).
	ctx, cancel := context.WithTimeout(ctx, connectionTimeouts*c.timeout)
	conn, err = c.dial(ctx, timeout)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("connect to the directory at %s: %w: %w", c.url, ErrUnavailable, err)
	}
	conn.SetTimeout(timeout)
	// Closing the connection ends whatever waits on it when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	done = func() {
		stop()
		cancel()
		conn.Close()
	}
	if c.startTLS {
		if err := c.startTLSOn(ctx, conn); err != nil {
			done()
			return nil, nil, fmt.Errorf("StartTLS with the directory at %s: %w: %w", c.url, ErrUnavailable, err)
		}
	}
	if err := c.serviceBind(ctx, conn); err != nil {
		done()
		return nil, nil, err
	}
	return conn, done, nil
}

// dial connects to the directory (and, for ldaps://, makes the TLS
// handshake) within timeout.
func (c *Client) dial(ctx context.Context, timeout time.Duration) (conn *ldap.Conn, err error) {
	_, span := c.startSpan(ctx, "ldap connect")
	defer func() { telemetry.End(span, err) }()
	dialer := &net.Dialer{Timeout: timeout}
	return ldap.DialURL(c.url, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(c.tls))
}

// startTLSOn upgrades conn to TLS (LDAP_START_TLS).
func (c *Client) startTLSOn(ctx context.Context, conn *ldap.Conn) (err error) {
	_, span := c.startSpan(ctx, "ldap starttls")
	defer func() { telemetry.End(span, err) }()
	return conn.StartTLS(c.tls)
}

// startSpan starts the client span of one call to the directory: its
// name and server, never a password nor what is searched for (the
// username).
func (c *Client) startSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return telemetry.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(c.spanAttrs...), trace.WithAttributes(attrs...))
}

// bind binds as dn with password, in a span that says whose bind it is
// ("service", "user") but neither the DN nor the password.
func (c *Client) bind(ctx context.Context, conn *ldap.Conn, who, dn, password string) (err error) {
	_, span := c.startSpan(ctx, "ldap bind", attribute.String("ldap.bind.account", who))
	defer func() { telemetry.End(span, err) }()
	return conn.Bind(dn, password)
}

// search runs req in a span that names what is searched for ("user",
// "groups") but not the filter, which holds the username.
func (c *Client) search(ctx context.Context, conn *ldap.Conn, what string, req *ldap.SearchRequest) (res *ldap.SearchResult, err error) {
	_, span := c.startSpan(ctx, "ldap search", attribute.String("ldap.search.for", what))
	defer func() {
		if res != nil {
			span.SetAttributes(attribute.Int("ldap.search.entries", len(res.Entries)))
		}
		telemetry.End(span, err)
	}()
	return conn.Search(req)
}

// serviceBind binds as LDAP_BIND_DN; with none, the connection stays
// anonymous (directories that allow anonymous searches).
func (c *Client) serviceBind(ctx context.Context, conn *ldap.Conn) error {
	if c.bindDN == "" {
		return nil
	}
	if err := c.bind(ctx, conn, "service", c.bindDN, c.bindPass); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fmt.Errorf("the directory refused the service account (LDAP_BIND_DN, LDAP_BIND_PASSWORD): wrong DN or password, so %w", ErrUnavailable)
		}
		return fmt.Errorf("bind as LDAP_BIND_DN: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// findUser searches the one entry of the user object class whose
// username attribute is username (escaped: a username is never filter
// syntax).
func (c *Client) findUser(ctx context.Context, conn *ldap.Conn, username string) (*ldap.Entry, error) {
	filter := fmt.Sprintf("(&(objectClass=%s)(%s=%s))", c.userClass, c.userAttr, ldap.EscapeFilter(username))
	attrs := []string{c.userAttr, c.emailAttr, "displayName", "cn"}
	if c.memberOf() {
		attrs = append(attrs, c.groupAttr)
	}
	req := ldap.NewSearchRequest(c.userBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false, filter, attrs, nil)
	res, err := c.search(ctx, conn, "user", req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, fmt.Errorf("find directory user: LDAP_USER_BASE %q does not exist, or the service account may not search it: %w", c.userBase, ErrUnavailable)
		}
		return nil, fmt.Errorf("find directory user: %w: %w", ErrUnavailable, err)
	}
	if res == nil || len(res.Entries) != 1 {
		return nil, fmt.Errorf("find directory user %s: %w", username, ErrNoSuchUser)
	}
	// An entry with two usernames is nobody: the account here, and posix
	// group membership, are keyed on the one name.
	if names := res.Entries[0].GetAttributeValues(c.userAttr); len(names) != 1 {
		return nil, fmt.Errorf("find directory user %s: the entry has %d values of %s: %w", username, len(names), c.userAttr, ErrNoSuchUser)
	}
	return res.Entries[0], nil
}

// memberOf reports whether groups are read from the user's entry (Active
// Directory's memberOf) rather than searched.
func (c *Client) memberOf() bool { return strings.EqualFold(c.groupAttr, "memberOf") }

// account reads entry's details and groups and maps the groups to roles.
func (c *Client) account(ctx context.Context, conn *ldap.Conn, entry *ldap.Entry) (*Account, error) {
	a := &Account{
		Username: entry.GetAttributeValue(c.userAttr),
		DN:       entry.DN,
		Email:    strings.TrimSpace(entry.GetAttributeValue(c.emailAttr)),
		Name:     entry.GetAttributeValue("displayName"),
	}
	if a.Name == "" {
		a.Name = entry.GetAttributeValue("cn")
	}
	groups, err := c.groups(ctx, conn, entry, a.Username)
	if err != nil {
		return nil, err
	}
	a.Groups = groups
	a.Roles = c.roles(groups)
	if a.Email == "" {
		return a, fmt.Errorf("directory user %s: %w (%s)", a.Username, ErrNoEmail, c.emailAttr)
	}
	if a.Roles == nil {
		return a, fmt.Errorf("directory user %s: %w", a.Username, ErrNoRole)
	}
	return a, nil
}

// groups returns the names (cn, lower-cased, sorted) of the user's
// groups that give a role: from memberOf, or by searching, among the
// mapped groups, those whose group attribute holds the user's username
// (memberUid, posixGroup) or DN (member, uniqueMember, …). Asking only for
// mapped groups keeps a member of hundreds of groups under the
// directory's size limit.
func (c *Client) groups(ctx context.Context, conn *ldap.Conn, entry *ldap.Entry, username string) ([]string, error) {
	mapped := slices.Concat(c.roleGroups[roleAdmin], c.roleGroups[roleDev], c.roleGroups[roleUser])
	if len(mapped) == 0 {
		return nil, nil
	}
	var names []string
	if c.memberOf() {
		for _, dn := range entry.GetAttributeValues(c.groupAttr) {
			parsed, err := ldap.ParseDN(dn)
			if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
				continue
			}
			if c.groupBase != "" && !underBase(parsed, c.groupBase) {
				continue
			}
			names = append(names, parsed.RDNs[0].Attributes[0].Value)
		}
	} else {
		value := entry.DN
		if strings.EqualFold(c.groupAttr, "memberUid") {
			value = username
		}
		var oneOf strings.Builder
		for _, g := range mapped {
			fmt.Fprintf(&oneOf, "(cn=%s)", ldap.EscapeFilter(g))
		}
		filter := fmt.Sprintf("(&(objectClass=%s)(%s=%s)(|%s))", c.groupClass, c.groupAttr, ldap.EscapeFilter(value), oneOf.String())
		req := ldap.NewSearchRequest(c.groupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"cn"}, nil)
		res, err := c.search(ctx, conn, "groups", req)
		if err != nil {
			return nil, fmt.Errorf("find the groups of %s: %w: %w", username, ErrUnavailable, err)
		}
		for _, e := range res.Entries {
			names = append(names, e.GetAttributeValues("cn")...)
		}
	}
	names = slices.DeleteFunc(lower(names), func(n string) bool { return !slices.Contains(mapped, n) })
	slices.Sort(names)
	return slices.Compact(names), nil
}

func underBase(dn *ldap.DN, base string) bool {
	b, err := ldap.ParseDN(base)
	return err == nil && b.AncestorOfFold(dn)
}

// roles maps group names to roles. Without LDAP_GROUP_TO_ROLE_USER every
// directory user gets the user role; with it, only members of one of its
// groups (or of an admin or dev group) do, and others get none (nil).
func (c *Client) roles(groups []string) []string {
	var roles []string
	for _, role := range []string{roleAdmin, roleDev, roleUser} {
		for _, g := range c.roleGroups[role] {
			if slices.Contains(groups, g) {
				roles = append(roles, role)
				break
			}
		}
	}
	if len(roles) > 0 || len(c.roleGroups[roleUser]) == 0 {
		if !slices.Contains(roles, roleUser) {
			roles = append(roles, roleUser)
		}
	}
	slices.Sort(roles)
	return roles
}
