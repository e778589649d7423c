package app

import (
	"context"
	"flag"
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

// Register adds the common flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.ConfigFile, "config", "", "config file (YAML or JSON); overrides APPLICATION_SETTINGS")
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
