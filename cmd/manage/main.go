// Command manage is Launchkit's admin CLI: migrations, users, roles,
// configuration, and checks of directory and single sign-on.
//
//	manage [-config FILE] migrate up|down|status|create NAME
//	manage [-config FILE] user create --email E [--role R]... [--password-stdin]
//	manage [-config FILE] user ensure --email E [--role R]... [--password-stdin]
//	manage [-config FILE] user reset-password --email E [--password-stdin]
//	manage [-config FILE] user roles --email E [--add R]... [--remove R]...
//	manage [-config FILE] user mfa-missing [--role R]...
//	manage [-config FILE] user reset-second-factors --email E
//	manage [-config FILE] role add NAME
//	manage [-config FILE] config [--check]
//	manage [-config FILE] ldap check --username U [--password-stdin]
//	manage [-config FILE] sso check NAME
//
// Exit codes: 0 ok, 1 failure, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/db"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, app.ErrUsage), errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stderr, usage)
		return 2
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "manage:", err)
		fmt.Fprint(stderr, usage)
		return 2
	case errors.Is(err, errCheckFailed):
		return 1
	}
	fmt.Fprintln(stderr, "manage:", err)
	return 1
}

const usage = `usage:
  manage [-config FILE] migrate up|down|status
  manage migrate create NAME      (writes migrations/<dialect>/NNNNN_NAME.sql)
  manage [-config FILE] user create --email E [--role R]... [--password-stdin]
  manage [-config FILE] user ensure --email E [--role R]... [--password-stdin]
                                  (creates the user unless the address has one; exit 0 both ways)
  manage [-config FILE] user reset-password --email E [--password-stdin]
                                  (password: stdin's first line, else generated and shown once)
  manage [-config FILE] user roles --email E [--add R]... [--remove R]...
                                  (grants or takes away roles, each flag repeatable or a comma list;
                                   with neither, shows the account's roles)
  manage [-config FILE] user mfa-missing [--role R]...
                                  (active holders of the roles, default MFA_REQUIRED_ROLES, who have
                                   no second factor: one a line)
  manage [-config FILE] user reset-second-factors --email E
                                  (removes the user's authenticator app, recovery codes and passkeys,
                                   and signs them out everywhere: for an owner who lost them)
  manage [-config FILE] role add NAME
  manage [-config FILE] config [--check]
  manage [-config FILE] ldap check --username U [--password-stdin]
                                  (directory sign-in: finds the user, shows their groups and roles)
  manage [-config FILE] sso check NAME
                                  (single sign-on: fetches the provider's discovery and keys, shows
                                   the redirect URL to register and the scopes)
`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags, rest, err := app.ParseFlags("manage", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageError{"no command given"}
	}
	switch rest[0] {
	case "migrate":
		return migrate(ctx, flags, rest[1:], getenv, stdout)
	case "user":
		return userCommand(ctx, flags, rest[1:], getenv, stdin, stdout)
	case "role":
		return roleCommand(ctx, flags, rest[1:], getenv, stdout)
	case "ldap":
		return ldapCommand(ctx, flags, rest[1:], getenv, stdin, stdout)
	case "sso":
		return ssoCommand(ctx, flags, rest[1:], getenv, stdout)
	case "config":
		return showConfig(ctx, flags, rest[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", rest[0])}
}

func migrate(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"migrate needs up, down, status or create NAME"}
	}
	if args[0] == "create" {
		if len(args) != 2 {
			return usageError{"migrate create needs exactly one NAME"}
		}
		files, err := db.CreateMigration("migrations", args[1])
		for _, f := range files {
			fmt.Fprintln(stdout, "created", f)
		}
		return err
	}
	if len(args) != 1 {
		return usageError{fmt.Sprintf("migrate %s takes no arguments", args[0])}
	}
	switch args[0] {
	case "up", "down", "status":
	default:
		return usageError{fmt.Sprintf("unknown migrate command %q", args[0])}
	}

	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return err
	}
	logger := app.NewLogger(cfg, io.Discard)
	d, err := app.OpenDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	m, err := db.NewMigrator(d, nil)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
		return nil
	case "down":
		if err := m.Down(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rolled back the latest migration")
		return nil
	}
	status, err := m.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tFILE")
	for _, s := range status {
		state := "pending"
		if s.Applied {
			state = "applied"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, state, s.Name)
	}
	return tw.Flush()
}

// errCheckFailed makes `config --check` exit 1 after printing its report.
var errCheckFailed = errors.New("configuration check failed")

func showConfig(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "only validate: exit 0 when the configuration is usable, 1 when not")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("config takes no arguments, got %q", fs.Arg(0))}
	}
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		if *check {
			fmt.Fprintln(stderr, err)
			return errCheckFailed
		}
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if *check {
		fmt.Fprintf(stdout, "configuration OK (ENV=%s)\n", cfg.Env)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, e := range cfg.Entries() {
		value := e.Value
		if e.Key == "SECRET_KEY" && cfg.GeneratedSecretKey {
			value = "(random per start)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, value, e.Source)
	}
	return tw.Flush()
}
