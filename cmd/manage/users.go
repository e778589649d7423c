package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// userCommand runs `manage user create|reset-password`.
func userCommand(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"user needs create or reset-password"}
	}
	switch args[0] {
	case "create":
		return createUser(ctx, flags, args[1:], getenv, stdin, stdout)
	case "reset-password":
		return resetPassword(ctx, flags, args[1:], getenv, stdin, stdout)
	}
	return usageError{fmt.Sprintf("unknown user command %q", args[0])}
}

func createUser(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	email := fs.String("email", "", "the new user's email address")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of generating one")
	var roles []string
	fs.Func("role", "grant this role besides user (repeatable)", func(r string) error {
		roles = append(roles, r)
		return nil
	})
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"user create needs --email"}
	}
	d, err := openUsersDB(ctx, flags, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	password, generated, err := newPassword(ctx, *fromStdin, stdin)
	if err != nil {
		return err
	}
	u, err := users.NewService(d.Gorm).Create(ctx, *email, password, roles...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %d: %s (roles: %s)\n", u.ID, u.Email, strings.Join(u.RoleNames(), ", "))
	if generated {
		printGenerated(stdout, password, u.Email)
	}
	return nil
}

func resetPassword(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user reset-password", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email address")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of generating one")
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"user reset-password needs --email"}
	}
	d, err := openUsersDB(ctx, flags, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	password, generated, err := newPassword(ctx, *fromStdin, stdin)
	if err != nil {
		return err
	}
	if err := users.NewService(d.Gorm).SetPassword(ctx, *email, password); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password reset for %s\n", strings.ToLower(strings.TrimSpace(*email)))
	if generated {
		printGenerated(stdout, password, *email)
	}
	return nil
}

// roleCommand runs `manage role add NAME`.
func roleCommand(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"role needs add NAME"}
	}
	if args[0] != "add" {
		return usageError{fmt.Sprintf("unknown role command %q", args[0])}
	}
	if len(args) != 2 {
		return usageError{"role add needs exactly one NAME"}
	}
	d, err := openUsersDB(ctx, flags, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := users.NewService(d.Gorm).AddRole(ctx, args[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added role %s\n", r.Name)
	return nil
}

// parseCommandFlags parses a subcommand's flags, which take no positional
// arguments. The flag package prints nothing: exitCode reports the
// mistake once, with the usage.
func parseCommandFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// openUsersDB opens the configured database and checks that the users
// migration has been applied.
func openUsersDB(ctx context.Context, flags app.Flags, getenv func(string) string) (*db.DB, error) {
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, app.NewLogger(cfg, io.Discard))
	if err != nil {
		return nil, err
	}
	if !d.Gorm.WithContext(ctx).Migrator().HasTable("users") {
		_ = d.Close()
		return nil, errors.New("the database has no users table: run `manage migrate up` first")
	}
	return d, nil
}

// newPassword reads the password from stdin when fromStdin is set, and
// otherwise generates one (generated is then true: print it once).
func newPassword(ctx context.Context, fromStdin bool, stdin io.Reader) (password string, generated bool, err error) {
	if !fromStdin {
		password, err = users.GeneratePassword()
		return password, true, err
	}
	password, err = readPassword(ctx, stdin)
	return password, false, err
}

// readPassword reads the first line of stdin, without its line ending.
// Interrupting the command (ctx ends) stops the wait for input.
func readPassword(ctx context.Context, stdin io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Longer than any valid password, so one that is too long is
		// reported as such rather than cut short.
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		done <- result{line, err}
	}()
	var r result
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("read password from stdin: %w", ctx.Err())
	case r = <-done:
	}
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", r.err)
	}
	line := strings.TrimSuffix(strings.TrimSuffix(r.line, "\n"), "\r")
	if line == "" {
		return "", errors.New("--password-stdin: stdin holds no password (give it one line)")
	}
	return line, nil
}

func printGenerated(stdout io.Writer, password, email string) {
	fmt.Fprintf(stdout, "password: %s\n", password)
	fmt.Fprintf(stdout, "This password is shown only once: store it now (`manage user reset-password --email %s` sets a new one).\n",
		strings.ToLower(strings.TrimSpace(email)))
}
