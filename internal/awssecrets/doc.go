// Package awssecrets reads Launchkit's configuration secret from AWS Secrets
// Manager.
//
// It is the production implementation of config.SecretFetcher: the config
// loader asks it for the raw payload of one secret (named by
// AWS_SECRETS_MANAGER_CONFIG) and parses that payload itself as a JSON or
// YAML object of configuration keys. This package only fetches.
//
// Everything about the AWS side follows the SDK's default chain
// (github.com/aws/aws-sdk-go-v2/config.LoadDefaultConfig):
//
//   - Region: the request's Region when set (AWS_SECRETS_REGION), else
//     AWS_REGION / AWS_DEFAULT_REGION, the shared config profile, and last
//     the EC2 instance metadata service (IMDSv2).
//   - Credentials: environment variables, shared credentials and config
//     files (profiles, SSO), web identity (EKS IRSA), the container
//     credentials endpoint (ECS task roles, EKS Pod Identity), and the EC2
//     instance role.
//   - Endpoint: the SDK's own overrides keep working, in particular
//     AWS_ENDPOINT_URL_SECRETS_MANAGER (and AWS_ENDPOINT_URL), which is how
//     local testing against LocalStack works.
//
// The caller bounds the whole fetch, including any credential or metadata
// look-ups, with ctx's deadline.
//
// Errors say in plain words what went wrong and can be told apart with
// errors.Is against the exported sentinels (ErrNotFound, ErrAccessDenied,
// ErrTimeout, ...); the underlying SDK error stays reachable with errors.As.
// No error ever quotes the secret's value. The package's own words never name
// the secret either (the caller adds the name), though an AWS message quoted
// in an error, such as an access-denied one, may name the principal and the
// resource.
package awssecrets
