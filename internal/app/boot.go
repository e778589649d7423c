package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/launchkit/launchkit/internal/awssecrets"
	"github.com/launchkit/launchkit/internal/config"
)

// Flags are the command-line flags every Launchkit binary accepts.
type Flags struct {
	// ConfigFile is -config PATH, an alternative to APPLICATION_SETTINGS.
	ConfigFile string
}

// ErrUsage marks a command-line mistake (exit code 2). The flag package
// has already printed what was wrong and the usage.
var ErrUsage = errors.New("bad usage")

// ParseFlags parses the common flags of a binary named name and returns
// the arguments after them.
func ParseFlags(name string, args []string, stderr io.Writer) (Flags, []string, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.ConfigFile, "config", "", "config file (YAML or JSON); overrides APPLICATION_SETTINGS")
	if err := fs.Parse(args); err != nil {
		return f, nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return f, fs.Args(), nil
}

// LoadForServer is the start of web and worker, which take no arguments:
// parse the common flags, refuse anything else, load the configuration.
func LoadForServer(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer) (*config.Config, error) {
	flags, rest, err := ParseFlags(name, args, stderr)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "%s takes no arguments, got %q\n", name, rest[0])
		return nil, ErrUsage
	}
	return LoadConfig(ctx, flags, getenv)
}

// LoadConfig loads the configuration the same way for web, worker and
// manage: defaults, the config file, the AWS Secrets Manager secret when
// one is named, then the environment.
func LoadConfig(ctx context.Context, f Flags, getenv func(string) string) (*config.Config, error) {
	return config.Load(ctx, config.Options{
		Getenv:  getenv,
		File:    f.ConfigFile,
		Secrets: awssecrets.New(),
	})
}

// StartLogger makes the process logger and logs what loading the
// configuration had to say: warnings, and a generated SECRET_KEY.
func StartLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	logger := NewLogger(cfg, w)
	for _, warning := range cfg.Warnings {
		logger.Warn("config: " + warning)
	}
	if cfg.GeneratedSecretKey {
		logger.Info("SECRET_KEY is not set: generated a random one for this start (development only); anything signed with it stops validating on restart")
	}
	return logger
}
