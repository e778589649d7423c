package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
)

// userCommand runs `manage user create|ensure|reset-password|roles|
// mfa-missing|reset-second-factors`.
func userCommand(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"user needs create, ensure, reset-password, roles, mfa-missing or reset-second-factors"}
	}
	switch args[0] {
	case "create":
		return createUser(ctx, flags, args[1:], getenv, stdin, stdout, false)
	case "ensure":
		return createUser(ctx, flags, args[1:], getenv, stdin, stdout, true)
	case "reset-password":
		return resetPassword(ctx, flags, args[1:], getenv, stdin, stdout)
	case "roles":
		return userRoles(ctx, flags, args[1:], getenv, stdout)
	case "mfa-missing":
		return usersWithoutSecondFactor(ctx, flags, args[1:], getenv, stdout)
	case "reset-second-factors":
		return resetSecondFactors(ctx, flags, args[1:], getenv, stdout)
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

// userRoles runs `user roles --email E [--add R]... [--remove R]...`:
// it grants and takes away roles of an existing account, under the users
// service's rules (users.Service.ChangeRoles), and prints the roles the
// account ends with; with neither flag, only prints them. Each flag may be
// repeated and may hold a comma list.
func userRoles(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user roles", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email address")
	var c users.RoleChange
	fs.Func("add", "grant these roles (repeatable, or a comma list)", roleList(&c.Add))
	fs.Func("remove", "take these roles away (repeatable, or a comma list)", roleList(&c.Remove))
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"user roles needs --email"}
	}
	for _, r := range c.Remove {
		if slices.Contains(c.Add, r) {
			return usageError{fmt.Sprintf("user roles: %s is both in --add and in --remove", r)}
		}
	}
	d, svc, err := openUsers(ctx, flags, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := svc.ByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if len(c.Add) == 0 && len(c.Remove) == 0 {
		fmt.Fprintf(stdout, "user %d: %s (roles: %s%s)\n", u.ID, u.Email, strings.Join(u.RoleNames(), ", "), directoryNote(u))
		return nil
	}
	after, err := svc.ChangeRoles(ctx, u.ID, c)
	if errors.Is(err, users.ErrUnknownRole) {
		// Say which names would do.
		if roles, rerr := svc.Roles(ctx); rerr == nil {
			names := make([]string, len(roles))
			for i, r := range roles {
				names[i] = r.Name
			}
			err = fmt.Errorf("%w (the roles are %s; `manage role add NAME` makes another)", err, strings.Join(names, ", "))
		}
	}
	if err != nil {
		return fmt.Errorf("user %d: %w", u.ID, err)
	}
	var what []string
	if granted := missingFrom(after.RoleNames(), u.RoleNames()); len(granted) > 0 {
		what = append(what, "granted "+strings.Join(granted, ", "))
	}
	if removed := missingFrom(u.RoleNames(), after.RoleNames()); len(removed) > 0 {
		what = append(what, "took away "+strings.Join(removed, ", "))
	}
	if len(what) == 0 {
		what = append(what, "no change")
	}
	fmt.Fprintf(stdout, "user %d: %s (roles: %s; %s)\n", after.ID, after.Email, strings.Join(after.RoleNames(), ", "), strings.Join(what, "; "))
	return nil
}

// usersWithoutSecondFactor runs `user mfa-missing [--role R]...`: the
// active users holding one of the roles (MFA_REQUIRED_ROLES when no
// --role is given; admins hold every role) who have no second factor,
// one a line, by email. Those are the users the site will hold to
// setting one up at their next sign-in.
func usersWithoutSecondFactor(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user mfa-missing", flag.ContinueOnError)
	var roles []string
	fs.Func("role", "list holders of this role (repeatable, or a comma list); default MFA_REQUIRED_ROLES", roleList(&roles))
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return err
	}
	if len(roles) == 0 {
		roles = cfg.MFARequiredRoles
	}
	if len(roles) == 0 {
		return usageError{"user mfa-missing needs --role R, or MFA_REQUIRED_ROLES set"}
	}
	d, svc, err := openUsersWith(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := svc.WithoutSecondFactor(ctx, roles)
	if err != nil {
		return err
	}
	for _, u := range list {
		fmt.Fprintf(stdout, "%s (roles: %s)\n", u.Email, strings.Join(u.RoleNames(), ", "))
	}
	return nil
}

// resetSecondFactors runs `user reset-second-factors --email E`: for an
// operator, when the account's owner lost their second factors and no
// admin can reset them (they are the only admin). It removes the
// authenticator app, the recovery codes and the passkeys, and signs the
// user out everywhere; the security log records it (method manage).
func resetSecondFactors(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user reset-second-factors", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email address")
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"user reset-second-factors needs --email"}
	}
	d, svc, err := openUsers(ctx, flags, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	// The user sees it in their recent activity, and admins in the
	// security log: who removed the second factors of an account matters.
	svc.Events = seclog.New(d.Gorm, slog.New(slog.DiscardHandler), nil)
	u, err := svc.ByEmail(ctx, *email)
	if err != nil {
		return err
	}
	before, err := svc.SecondFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := svc.ResetSecondFactorsBy(ctx, 0, u.ID); err != nil {
		return err
	}
	var removed []string
	if before.TOTP {
		removed = append(removed, fmt.Sprintf("authenticator app and %d recovery codes", before.RecoveryCodesLeft))
	}
	if before.Passkeys > 0 {
		removed = append(removed, fmt.Sprintf("%d passkeys", before.Passkeys))
	}
	if len(removed) == 0 {
		removed = append(removed, "it had none")
	}
	fmt.Fprintf(stdout, "user %d: %s: second factors reset (%s); signed out everywhere, the next sign-in needs the password alone\n", u.ID, u.Email, strings.Join(removed, ", "))
	return nil
}

// roleList is the flag.Func of --add and --remove: it appends each name
// of a comma list to list.
func roleList(list *[]string) func(string) error {
	return func(value string) error {
		for name := range strings.SplitSeq(value, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				return errors.New("needs a role name (or a comma list of them)")
			}
			*list = append(*list, name)
		}
		return nil
	}
}

// missingFrom lists the names of a that b lacks.
func missingFrom(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// directoryNote says, for a directory-managed account, which of its roles
// are the directory's to change.
func directoryNote(u *users.User) string {
	if !u.Directory() {
		return ""
	}
	return fmt.Sprintf("; directory user %s: %s follow the directory's groups", *u.DirectoryName, strings.Join(users.DirectoryRoles, ", "))
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
	d, svc, err := openUsers(ctx, flags, getenv)
	if err != nil {
		return nil, err
	}
	in := &userInput{email: strings.ToLower(strings.TrimSpace(*email)), db: d, users: svc}
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
	d, svc, err := openUsers(ctx, flags, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := svc.AddRole(ctx, args[1])
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

// openUsers opens the configured database, checks that the users
// migration has been applied, and returns it with the users service the
// app would build on it (app.NewUsers). The caller closes the database.
func openUsers(ctx context.Context, flags app.Flags, getenv func(string) string) (*db.DB, *users.Service, error) {
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return nil, nil, err
	}
	return openUsersWith(ctx, cfg)
}

// openUsersWith is openUsers with the configuration loaded already.
func openUsersWith(ctx context.Context, cfg *config.Config) (*db.DB, *users.Service, error) {
	d, err := app.OpenDB(ctx, cfg, app.NewLogger(cfg, io.Discard))
	if err != nil {
		return nil, nil, err
	}
	if !d.Gorm.WithContext(ctx).Migrator().HasTable("users") {
		_ = d.Close()
		return nil, nil, errors.New("the database has no users table: run `manage migrate up` first")
	}
	return d, app.NewUsers(cfg, d), nil
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
