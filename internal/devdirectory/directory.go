// Package devdirectory runs a throwaway OpenLDAP server (Debian's slapd)
// on loopback, loaded with a few people and groups and a read-only
// service account: for the tests of directory sign-in (testenv.Slapd) and
// for trying it by hand (make ldap, tools/devldap). It needs slapd and
// ldap-utils (apt-get install slapd ldap-utils).
package devdirectory

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// directoryLDIF is what a Directory loads: the people and groups below, and
// the service account cn=reader.
//
//go:embed testdata/directory.ldif
var directoryLDIF []byte

// Users maps the uid of each person in the directory
// (uid=<uid>,ou=people,dc=example,dc=org) to their password, so tests
// name them without repeating literals. Everyone has mail <uid>@example.org
// except dave, who has no mail; erin is in no group.
var Users = map[string]string{
	"alice": "alice-secret-1",
	"bob":   "bob-secret-1",
	"carol": "carol-secret-1",
	"dave":  "dave-secret-1",
	"erin":  "erin-secret-1",
}

// Groups maps the cn of each group in the directory
// (cn=<cn>,ou=groups,dc=example,dc=org) to its members' uids. The first
// three are groupOfNames (member: the person's DN), the posix- ones
// posixGroup (memberUid: the uid) with gidNumber 5000, 5001 and 5002.
var Groups = map[string][]string{
	"admins":           {"alice"},
	"staff":            {"alice", "bob", "carol"},
	"developers":       {"carol"},
	"posix-admins":     {"alice"},
	"posix-developers": {"carol"},
	"posix-staff":      {"alice", "bob", "carol"},
}

// Directory is a throwaway OpenLDAP server on loopback.
type Directory struct {
	URL           string // ldap://127.0.0.1:PORT; StartTLS works on it
	LDAPSURL      string // ldaps://127.0.0.1:PORT2, certificate for 127.0.0.1 and localhost signed by the CA below
	CAFile        string // PEM file of the test CA
	CAPEM         []byte // the same PEM
	BaseDN        string // dc=example,dc=org
	BindDN        string // the read-only service account: reads everything but passwords
	BindPassword  string
	AdminDN       string // the rootdn, for changes
	AdminPassword string

	slapd, conf string
	out         *output // slapd's output, across restarts
	shown       int     // how much of out a failure message has shown
	cmd         *exec.Cmd
	done        chan struct{} // closed when cmd has exited
}

// UserDN returns the DN of the person with this uid.
func (d *Directory) UserDN(uid string) string {
	return "uid=" + uid + ",ou=people," + d.BaseDN
}

// GroupDN returns the DN of the group with this cn.
func (d *Directory) GroupDN(cn string) string {
	return "cn=" + cn + ",ou=groups," + d.BaseDN
}

// TLSConfig trusts the test CA and names 127.0.0.1, for StartTLS on URL
// (ldaps:// takes the server name from the URL itself).
func (d *Directory) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// ErrNoSlapd: OpenLDAP's server or tools are not installed.
var ErrNoSlapd = errors.New("slapd and ldap-utils are needed (apt-get install slapd ldap-utils)")

// NewDirectory prepares a directory in dir (an empty directory it keeps
// using): configuration, certificates and the people and groups loaded,
// to listen on 127.0.0.1 at ldapPort (ldap://) and ldapsPort (ldaps://).
// Run starts it.
func NewDirectory(dir string, ldapPort, ldapsPort int) (*Directory, error) {
	slapd, slapadd := sbin("slapd"), sbin("slapadd")
	var missing []string
	if slapd == "" {
		missing = append(missing, "slapd")
	}
	if slapadd == "" {
		missing = append(missing, "slapadd")
	}
	if _, err := exec.LookPath("ldapmodify"); err != nil {
		missing = append(missing, "ldapmodify")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not installed: %w", strings.Join(missing, ", "), ErrNoSlapd)
	}
	schema, err := schemaDir()
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrNoSlapd)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	d := &Directory{
		URL:           fmt.Sprintf("ldap://127.0.0.1:%d", ldapPort),
		LDAPSURL:      fmt.Sprintf("ldaps://127.0.0.1:%d", ldapsPort),
		CAFile:        filepath.Join(dir, "ca.pem"),
		BaseDN:        "dc=example,dc=org",
		BindDN:        "cn=reader,dc=example,dc=org",
		BindPassword:  "reader-secret-1",
		AdminDN:       "cn=admin,dc=example,dc=org",
		AdminPassword: "admin-secret-1",
		slapd:         slapd,
		conf:          filepath.Join(dir, "slapd.conf"),
		out:           &output{},
	}
	caPEM, certPEM, keyPEM, err := testCertificates()
	if err != nil {
		return nil, err
	}
	d.CAPEM = caPEM
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for name, body := range map[string][]byte{d.CAFile: caPEM, certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(name, body, 0o600); err != nil {
			return nil, err
		}
	}
	var conf strings.Builder
	for _, s := range []string{"core", "cosine", "nis", "inetorgperson"} {
		fmt.Fprintf(&conf, "include %q\n", filepath.Join(schema, s+".schema"))
	}
	if mod := moduleDir(); mod != "" { // else back_mdb is built in
		fmt.Fprintf(&conf, "modulepath %q\nmoduleload back_mdb\n", mod)
	}
	fmt.Fprintf(&conf, `loglevel 0
pidfile %q
argsfile %q
TLSCACertificateFile %q
TLSCertificateFile %q
TLSCertificateKeyFile %q

database mdb
maxsize 16777216
suffix %q
rootdn %q
rootpw %q
directory %q
index objectClass,uid,mail,cn,member,memberUid eq

access to attrs=userPassword
	by anonymous auth
	by * none
access to *
	by dn.exact=%q read
	by self read
	by * none
`, filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "slapd.args"),
		d.CAFile, certFile, keyFile,
		d.BaseDN, d.AdminDN, d.AdminPassword, data, d.BindDN)
	if err := os.WriteFile(d.conf, []byte(conf.String()), 0o600); err != nil {
		return nil, err
	}
	ldif := filepath.Join(dir, "directory.ldif")
	if err := os.WriteFile(ldif, directoryLDIF, 0o600); err != nil {
		return nil, err
	}
	load := exec.Command(slapadd, "-q", "-f", d.conf, "-l", ldif)
	load.Env = ldapEnv()
	if out, err := load.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slapadd: %v\n%s", err, out)
	}
	return d, nil
}

// Run starts the server, unless it is running, and waits until it
// answers (10 s at most); an error says why, with slapd's output.
func (d *Directory) Run() error {
	if d.running() {
		return nil
	}
	from := len(d.out.String())
	cmd := exec.Command(d.slapd, "-f", d.conf, "-h", d.URL+"/ "+d.LDAPSURL+"/", "-d", "stats")
	cmd.Stdout, cmd.Stderr, cmd.Env = d.out, d.out, ldapEnv()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.cmd, d.done = cmd, done

	deadline := time.Now().Add(10 * time.Second)
	for {
		err := d.ping()
		if err == nil && strings.Contains(d.out.String()[from:], "slapd starting") {
			// (slapd says so once it listens: a ping that came before
			// may have reached another test's slapd on a port this one
			// could not bind.)
			return nil
		}
		select {
		case <-done:
			out := d.out.String()
			d.shown = len(out)
			return fmt.Errorf("slapd exited (%v) before answering on %s:\n%s", cmd.ProcessState, d.URL, clip(out))
		default:
		}
		if time.Now().After(deadline) {
			out := d.out.String()
			d.shown = len(out)
			return fmt.Errorf("slapd did not answer on %s within 10s (%v):\n%s", d.URL, err, clip(out))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clip shortens slapd's output for a failure message to about its first
// 2 KB (start-up) and its last 6 KB, in whole lines.
func clip(out string) string {
	if len(out) <= 8<<10 {
		return out
	}
	head, tail := out[:2<<10], out[len(out)-6<<10:]
	if i := strings.LastIndexByte(head, '\n'); i >= 0 {
		head = head[:i+1]
	}
	if i := strings.IndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	return head + "…\n" + tail
}

// ping binds as the service account on URL and completes a TLS handshake
// on LDAPSURL.
func (d *Directory) ping() error {
	dialer := ldap.DialWithDialer(&net.Dialer{Timeout: time.Second})
	c, err := ldap.DialURL(d.URL, dialer)
	if err != nil {
		return err
	}
	err = c.Bind(d.BindDN, d.BindPassword)
	_ = c.Close()
	if err != nil {
		return err
	}
	c, err = ldap.DialURL(d.LDAPSURL, dialer, ldap.DialWithTLSConfig(d.TLSConfig()))
	if err != nil {
		return err
	}
	return c.Close()
}

// Close stops the server (SIGTERM, then SIGKILL after 10 s); Run starts
// it again on the same ports. It does nothing when the server is not
// running.
func (d *Directory) Close() error {
	if !d.running() {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return errors.New("slapd did not stop within 10s of SIGTERM; killed it")
	}
}

func (d *Directory) running() bool {
	if d.done == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Modify applies an LDIF change (records with changetype: add, modify,
// delete or modrdn) as the admin, with ldapmodify.
func (d *Directory) Modify(ldif string) error {
	cmd := exec.Command("ldapmodify", "-x", "-H", d.URL, "-D", d.AdminDN, "-w", d.AdminPassword)
	cmd.Env = ldapEnv()
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldapmodify: %v\n%s\nLDIF:\n%s", err, out, ldif)
	}
	return nil
}

// ldapEnv is the environment for the OpenLDAP tools: LDAPNOINIT keeps
// them from reading the machine's ldap.conf and the user's .ldaprc.
func ldapEnv() []string {
	return append(os.Environ(), "LDAPNOINIT=1")
}

// sbin finds a tool that may live in /usr/sbin, which is not on a normal
// user's PATH on Debian.
func sbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// schemaDir finds OpenLDAP's schema files: /etc/ldap/schema on Debian,
// /etc/openldap/schema elsewhere.
func schemaDir() (string, error) {
	for _, dir := range []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"} {
		if _, err := os.Stat(filepath.Join(dir, "inetorgperson.schema")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no OpenLDAP schema directory (/etc/ldap/schema) holds inetorgperson.schema")
}

// moduleDir finds the directory of back_mdb when slapd loads it as a
// module (Debian: /usr/lib/ldap), or returns "" when it is built in.
func moduleDir() string {
	for _, dir := range []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap"} {
		for _, f := range []string{"back_mdb.la", "back_mdb.so"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return dir
			}
		}
	}
	return ""
}

// testCertificates makes a CA and a server certificate it signs, for
// 127.0.0.1 and localhost, valid for a day; all PEM. The keys are ECDSA
// P-256, which the GnuTLS in Debian's slapd accepts.
func testCertificates() (caPEM, certPEM, keyPEM []byte, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Launchkit test LDAP CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err = x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	encode := func(typ string, der []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	return encode("CERTIFICATE", caDER), encode("CERTIFICATE", leafDER), encode("PRIVATE KEY", keyDER), nil
}

// output collects slapd's output, written from its process's pipes.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Unshown returns what slapd wrote that no error of Run has shown yet,
// shortened to its start and its end: for a failed test's log.
func (d *Directory) Unshown() string {
	return clip(d.out.String()[d.shown:])
}
