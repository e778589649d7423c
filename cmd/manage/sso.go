package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/sso"
)

// ssoCheckTimeout bounds the whole check (each call to the provider has
// its own, shorter limit: sso.DefaultTimeout).
const ssoCheckTimeout = 30 * time.Second

// ssoCommand runs `manage sso check NAME`: what an operator runs first
// when setting up a provider of OIDC_PROVIDERS. It fetches the discovery
// document and the JWKS and prints them with the redirect URL to register
// and the scopes asked for. It never prints the client secret.
func ssoCommand(ctx context.Context, flags app.Flags, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{"sso needs check NAME"}
	}
	if len(args) != 2 || strings.HasPrefix(args[1], "-") {
		return usageError{"sso check needs exactly one NAME, a provider of OIDC_PROVIDERS"}
	}
	name := args[1]
	cfg, err := app.LoadConfig(ctx, flags, getenv)
	if err != nil {
		return err
	}
	set, err := sso.New(cfg, nil)
	if err != nil {
		return err
	}
	p, ok := set.Get(name)
	if !ok {
		var names []string
		for _, p := range set.List() {
			names = append(names, p.Name())
		}
		if len(names) == 0 {
			return errors.New("OIDC_PROVIDERS is empty: no provider to check (docs/single-sign-on.md)")
		}
		return fmt.Errorf("no provider %q in OIDC_PROVIDERS (configured: %s)", name, strings.Join(names, ", "))
	}

	ctx, cancel := context.WithTimeout(ctx, ssoCheckTimeout)
	defer cancel()
	r, err := p.Check(ctx)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "provider\t%s (button: %q)\n", r.Name, r.Label)
	fmt.Fprintf(tw, "issuer\t%s\n", r.Issuer)
	if r.AuthURL != "" {
		fmt.Fprintf(tw, "authorization\t%s\ntoken\t%s\nuserinfo\t%s\n", r.AuthURL, r.TokenURL, orNone(r.UserInfoURL))
		fmt.Fprintf(tw, "jwks\t%s\n", orNone(r.JWKSURL))
	}
	if r.Keys > 0 {
		fmt.Fprintf(tw, "keys\t%d (signing: %s)\n", r.Keys, orNone(strings.Join(r.SigningAlgs, ", ")))
	}
	fmt.Fprintf(tw, "redirect URL\t%s (register it at the provider)\n", r.RedirectURL)
	fmt.Fprintf(tw, "scopes\t%s\n", strings.Join(r.Scopes, " "))
	domains := strings.Join(r.AllowedDomains, ", ")
	if domains == "" {
		domains = "(any)"
	}
	fmt.Fprintf(tw, "allowed domains\t%s\n", domains)
	fmt.Fprintf(tw, "groups claim\t%s\n", orNone(r.GroupsClaim))
	for _, role := range []string{"admin", "dev", "user"} {
		if groups := p.Config.Roles[role]; len(groups) > 0 {
			fmt.Fprintf(tw, "role %s\t%s\n", role, strings.Join(groups, ", "))
		}
	}
	fmt.Fprintf(tw, "accounts\t%s\n", map[bool]string{true: "a first sign-in may create one (allow_signup)", false: "only existing accounts (allow_signup is off)"}[p.Config.AllowSignup])
	if p.Config.TrustEmail {
		fmt.Fprintf(tw, "trust email\tyes: a verified address links to the account that has it\n")
	}
	secret := "(none: a public client, PKCE only)"
	if p.Config.ClientSecret != "" {
		secret = "set (not shown)"
	}
	fmt.Fprintf(tw, "client\t%s, secret %s\n", p.Config.ClientID, secret)
	tw.Flush()
	return err
}
