package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/directory"
)

// ldapCommand runs `manage ldap check --username U [--password-stdin]`:
// what an operator runs first when setting up directory sign-in. It binds
// with the service account, finds the user and prints their entry, groups
// and the roles those give; with a password, it also checks it.
func ldapCommand(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{"ldap needs check --username U"}
	}
	fs := flag.NewFlagSet("ldap check", flag.ContinueOnError)
	username := fs.String("username", "", "the directory username to look up")
	withPassword := fs.Bool("password-stdin", false, "also check the user's password, read from the first line of stdin")
	if err := parseCommandFlags(fs, args[1:]); err != nil {
		return err
	}
	if *username == "" {
		return usageError{"ldap check needs --username"}
	}
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return err
	}
	if !cfg.UserLDAP {
		return errors.New("USER_LDAP is off: set USER_LDAP=true and the LDAP_* keys (docs/directory-sign-in.md)")
	}
	c, err := directory.New(cfg)
	if err != nil {
		return err
	}
	var password string
	if *withPassword {
		if password, err = readPassword(ctx, stdin); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	bind := cfg.LDAPBindDN
	if bind == "" {
		bind = "anonymous"
	}
	if err := c.Ping(ctx); err != nil {
		return err
	}
	fmt.Fprintf(tw, "directory\t%s (service bind as %s: ok)\n", c.Address(), bind)
	a, err := c.Lookup(ctx, *username)
	if a != nil {
		fmt.Fprintf(tw, "user\t%s\ndn\t%s\nemail\t%s\nname\t%s\ngroups\t%s\nroles\t%s\n",
			a.Username, a.DN, orNone(a.Email), orNone(a.Name), orNone(strings.Join(a.Groups, ", ")), orNone(strings.Join(a.Roles, ", ")))
	}
	if err != nil {
		tw.Flush()
		return err
	}
	if *withPassword {
		if _, err := c.Authenticate(ctx, *username, password); err != nil {
			fmt.Fprintf(tw, "password\twrong or refused\n")
			tw.Flush()
			return err
		}
		fmt.Fprintf(tw, "password\tright (the directory accepted a bind as the user)\n")
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
