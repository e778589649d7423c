package config

// OIDCProvider is one OpenID Connect provider of OIDC_PROVIDERS: an
// identity provider (Google, Microsoft Entra ID, Okta, Keycloak, Auth0…)
// users may sign in through. See docs/single-sign-on.md.
type OIDCProvider struct {
	// Name names the provider in URLs (/user/sso/{name}/start): lower
	// case letters, digits and dashes.
	Name string `json:"name" yaml:"name"`
	// Label is the sign-in button's text ("Sign in with …").
	Label string `json:"label" yaml:"label"`
	// Issuer is the provider's issuer URL, where its discovery document
	// (/.well-known/openid-configuration) lives.
	Issuer string `json:"issuer" yaml:"issuer"`
	// ClientID and ClientSecret are this site's credentials at the
	// provider. The secret is redacted wherever configuration is shown.
	ClientID     string `json:"client_id" yaml:"client_id"`
	ClientSecret string `json:"client_secret" yaml:"client_secret"`
	// Scopes are asked for besides openid (default: email profile).
	Scopes []string `json:"scopes" yaml:"scopes"`
	// AllowedDomains, when not empty, are the only email domains that
	// may sign in through the provider.
	AllowedDomains []string `json:"allowed_domains" yaml:"allowed_domains"`
	// AllowSignup lets a first sign-in through the provider create an
	// account (when registration is open, USER_ENABLE_REGISTER).
	AllowSignup bool `json:"allow_signup" yaml:"allow_signup"`
	// TrustEmail marks a provider whose verified addresses are trusted
	// to link to an existing account of the same address without the
	// user signing in first (the company's own provider).
	TrustEmail bool `json:"trust_email" yaml:"trust_email"`
	// GroupsClaim names the ID token claim listing the user's groups;
	// with Roles it decides roles at each sign-in, as the LDAP group
	// mapping does.
	GroupsClaim string `json:"groups_claim" yaml:"groups_claim"`
	// Roles maps a role (admin, dev, user) to the group names whose
	// members get it.
	Roles map[string][]string `json:"roles" yaml:"roles"`
}
