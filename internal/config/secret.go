package config

import "context"

// SecretRequest names the secret to read for the secret layer, with the
// settings that select its region and version.
type SecretRequest struct {
	// Name is the secret's name or ARN (AWS_SECRETS_MANAGER_CONFIG).
	Name string
	// Region overrides the SDK's region chain when set (AWS_SECRETS_REGION).
	Region string
	// VersionStage selects a staging label, AWSCURRENT by default
	// (AWS_SECRETS_VERSION_STAGE).
	VersionStage string
	// VersionID selects one exact version and wins over VersionStage
	// (AWS_SECRETS_VERSION_ID).
	VersionID string
}

// SecretFetcher reads the raw payload of one secret: the SecretString or
// SecretBinary, a JSON or YAML object of configuration keys. The loader
// parses it; the fetcher only fetches, honours ctx's deadline, and returns
// errors that say in plain words what went wrong without quoting the secret.
type SecretFetcher interface {
	FetchSecret(ctx context.Context, req SecretRequest) ([]byte, error)
}
