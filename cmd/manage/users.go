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
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// userCommand runs `manage user create|ensure|reset-password`.
func userCommand(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"user needs create, ensure or reset-password"}
	}
	switch args[0] {
	case "create":
		return createUser(ctx, flags, args[1:], getenv, stdin, stdout, false)
	case "ensure":
		return createUser(ctx, flags, args[1:], getenv, stdin, stdout, true)
	case "reset-password":
		return resetPassword(ctx, flags, args[1:], getenv, stdin, stdout)
	}
	return usageError{fmt.Sprintf("unknown user command %q", args[0])}
}

// createUser runs `user create`, or with ensure `user ensure`: for a
// deploy's seeding, which creates the user unless the address has an
// account already, and then leaves it as it is (its roles and password
// too); both end with exit 0 and say which.
func createUser(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer, ensure bool) error {
	name := "user create"
	if ensure {
		name = "user ensure"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var roles []string
	fs.Func("role", "grant this role besides user (repeatable)", func(r string) error {
		roles = append(roles, r)
		return nil
	})
	unconfirmed := fs.Bool("unconfirmed", false, "leave the address unconfirmed (an operator's accounts count as confirmed)")
	in, err := readUserInput(ctx, fs, flags, args, getenv, stdin)
	if err != nil {
		return err
	}
	defer in.db.Close()
	svc := in.users
	create := svc.CreateConfirmed
	if *unconfirmed {
		create = svc.Create
	}
	if ensure {
		u, err := svc.ByEmail(ctx, in.email)
		if err == nil {
			fmt.Fprintf(stdout, "user %d: %s exists: left as it is (roles: %s)\n", u.ID, u.Email, strings.Join(u.RoleNames(), ", "))
			return nil
		}
		if !errors.Is(err, users.ErrNotFound) {
			return err
		}
	}
	u, err := create(ctx, in.email, in.password, roles...)
	if ensure && errors.Is(err, users.ErrEmailTaken) {
		// Another deploy step made it a moment ago.
		fmt.Fprintf(stdout, "user %s exists: left as it is\n", in.email)
		return nil
	}
	if err != nil {
		return err
	}
	state := "confirmed"
	if u.EmailConfirmedAt == nil {
		state = "unconfirmed"
	}
	fmt.Fprintf(stdout, "created user %d: %s (roles: %s; address %s)\n", u.ID, u.Email, strings.Join(u.RoleNames(), ", "), state)
	in.printGenerated(stdout)
	return nil
}

func resetPassword(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	in, err := readUserInput(ctx, flag.NewFlagSet("user reset-password", flag.ContinueOnError), flags, args, getenv, stdin)
	if err != nil {
		return err
	}
	defer in.db.Close()
	if err := in.users.SetPassword(ctx, in.email, in.password); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password reset for %s\n", in.email)
	in.printGenerated(stdout)
	return nil
}

// userInput is what `user create` and `user reset-password` share: the
// --email, the password (from stdin or generated), the open database and
// the users service on it, configured as the app's is (its password
// policy knows APP_NAME).
type userInput struct {
	email     string // as typed, trimmed and lower-cased
	password  string
	generated bool
	db        *db.DB
	users     *users.Service
}

// readUserInput adds --email and --password-stdin to fs (which may hold
// the command's own flags), parses args, opens the database and gets the
// password. The caller closes in.db.
func readUserInput(ctx context.Context, fs *flag.FlagSet, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader) (*userInput, error) {
	email := fs.String("email", "", "the user's email address")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of generating one")
	if err := parseCommandFlags(fs, args); err != nil {
		return nil, err
	}
	if *email == "" {
		return nil, usageError{fs.Name() + " needs --email"}
	}
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return nil, err
	}
	d, err := openConfiguredUsersDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	in := &userInput{email: strings.ToLower(strings.TrimSpace(*email)), db: d, users: app.NewUsers(cfg, d)}
	if *fromStdin {
		in.password, err = readPassword(ctx, stdin)
	} else {
		in.password, err = users.GeneratePassword()
		in.generated = true
	}
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return in, nil
}

// printGenerated shows a generated password, the only time it is shown.
func (in *userInput) printGenerated(stdout io.Writer) {
	if !in.generated {
		return
	}
	fmt.Fprintf(stdout, "password: %s\n", in.password)
	fmt.Fprintf(stdout, "This password is shown only once: store it now (`manage user reset-password --email %s` sets a new one).\n", in.email)
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
	r, err := users.NewService(d).AddRole(ctx, args[1])
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
	return openConfiguredUsersDB(ctx, cfg)
}

// openConfiguredUsersDB is openUsersDB with the configuration loaded.
func openConfiguredUsersDB(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	d, err := app.OpenDB(ctx, cfg, app.NewLogger(cfg, io.Discard))
	if err != nil {
		return nil, err
	}
	if !d.Gorm.WithContext(ctx).Migrator().HasTable("users") {
		_ = d.Close()
		return nil, errors.New("the database has no users table: run `manage migrate up` first")
	}
	return d, nil
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
