// Command devldap runs a directory to try directory sign-in against: the
// OpenLDAP server (Debian's slapd) the tests use, on fixed loopback ports,
// with a few people and groups. It needs slapd and ldap-utils
// (apt-get install slapd ldap-utils). Ctrl-C stops it and deletes its
// data. See docs/directory-sign-in.md.
//
//	make ldap
//	go run ./tools/devldap [-ldap-port 10389] [-ldaps-port 10636] [-dir data/devldap]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/launchkit/launchkit/internal/devdirectory"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devldap:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("devldap", flag.ContinueOnError)
	ldapPort := flags.Int("ldap-port", 10389, "port of ldap:// (StartTLS too) on 127.0.0.1")
	ldapsPort := flags.Int("ldaps-port", 10636, "port of ldaps:// on 127.0.0.1")
	dir := flags.String("dir", "data/devldap", "where the directory's data lives while it runs (emptied first, deleted at the end)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if err := mayEmpty(*dir); err != nil {
		return err
	}
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(*dir)
	d, err := devdirectory.NewDirectory(*dir, *ldapPort, *ldapsPort)
	if err != nil {
		return err
	}
	if err := d.Run(); err != nil {
		return err
	}
	defer d.Close()

	fmt.Fprintf(stdout, "A directory is up on %s and %s (its test CA: %s).\n", d.URL, d.LDAPSURL, d.CAFile)
	fmt.Fprintf(stdout, "Service account: %s, password %s.\n\nPeople (username, password, groups):\n", d.BindDN, d.BindPassword)
	for _, uid := range sortedKeys(devdirectory.Users) {
		fmt.Fprintf(stdout, "  %-6s %-15s %s\n", uid, devdirectory.Users[uid], strings.Join(groupsOf(uid), ", "))
	}
	fmt.Fprintf(stdout, "\nSign in against it: in another terminal, from the repository root,\n\n"+
		"  APPLICATION_SETTINGS=tools/devldap/launchkit.yaml make run\n\n"+
		"then sign in at http://localhost:8000/user/sign-in as alice (an admin) or bob.\n"+
		"Ctrl-C here stops the directory and deletes its data.\n")
	<-ctx.Done()
	return nil
}

// mayEmpty refuses to empty dir unless it is missing, empty, or an
// earlier run's (it holds the slapd.conf written there): -dir must never
// delete someone's files.
func mayEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "slapd.conf")); err != nil {
		return fmt.Errorf("-dir %s holds files that are not an earlier devldap run's: give an empty or new directory", dir)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func groupsOf(uid string) []string {
	var groups []string
	for g, members := range devdirectory.Groups {
		if slices.Contains(members, uid) {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	if groups == nil {
		return []string{"(none)"}
	}
	return groups
}
