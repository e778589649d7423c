package awssecrets

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/launchkit/launchkit/internal/config"
)

// DefaultVersionStage is the staging label read when a request names
// neither a stage nor a version ID.
const DefaultVersionStage = "AWSCURRENT"

// Fetcher reads secrets from AWS Secrets Manager with the AWS SDK's default
// configuration chain. It implements config.SecretFetcher.
//
// The zero value is ready to use, and a Fetcher is safe for concurrent use.
// Each FetchSecret call loads the AWS configuration afresh, so changes to the
// environment between calls are seen; Launchkit fetches once at start-up.
type Fetcher struct {
	// LoadOptions are extra options for config.LoadDefaultConfig, applied
	// after the fetcher's own (so they can override the region). Leave
	// empty in production; tests use it, for example, to shorten retry
	// back-off.
	LoadOptions []func(*awsconfig.LoadOptions) error

	// ClientOptions are extra options for the Secrets Manager client.
	ClientOptions []func(*secretsmanager.Options)
}

var _ config.SecretFetcher = (*Fetcher)(nil)

// New returns a Fetcher that uses the SDK's default chain for region,
// credentials and endpoint.
func New() *Fetcher { return &Fetcher{} }

// FetchSecret reads one version of the secret req.Name and returns its
// SecretString, or its SecretBinary when it has no string.
//
// The version is req.VersionID when set (any VersionStage is then ignored),
// else req.VersionStage, else AWSCURRENT. The region is req.Region when set,
// else the SDK's chain: AWS_REGION / AWS_DEFAULT_REGION, the shared config
// profile, then the EC2 instance metadata service (IMDSv2).
//
// ctx bounds everything, including credential and instance metadata
// look-ups; when it ends first the error matches ErrTimeout. Errors match
// the package's sentinels with errors.Is and never contain the secret's
// value or name.
func (f *Fetcher) FetchSecret(ctx context.Context, req config.SecretRequest) ([]byte, error) {
	if strings.TrimSpace(req.Name) == "" {
		return nil, newError(ErrRequestFailed, nil, "no secret name given")
	}
	if err := ctx.Err(); err != nil {
		return nil, timeoutError(ctx, err, "starting the request")
	}

	var opts []func(*awsconfig.LoadOptions) error
	if req.Region != "" {
		opts = append(opts, awsconfig.WithRegion(req.Region))
	}
	if f != nil {
		opts = append(opts, f.LoadOptions...)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, timeoutError(ctx, err, "loading the AWS configuration")
		}
		return nil, newError(ErrInvalidConfig, err, sdkText(err))
	}

	if cfg.Region == "" {
		if err := regionFromIMDS(ctx, &cfg); err != nil {
			return nil, err
		}
	}

	// Resolve credentials before the call, so that a missing or broken
	// credential source is reported as such rather than as a signing
	// failure. The SDK caches what it gets here for the call itself.
	if cfg.Credentials != nil {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return nil, timeoutError(ctx, err, "getting AWS credentials")
			}
			return nil, newError(ErrNoCredentials, err, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "+
				"or AWS_PROFILE, or give the task, pod or instance an IAM role ("+err.Error()+")")
		}
	}

	var clientOpts []func(*secretsmanager.Options)
	if f != nil {
		clientOpts = f.ClientOptions
	}
	client := secretsmanager.NewFromConfig(cfg, clientOpts...)

	out, err := client.GetSecretValue(ctx, input(req))
	if err != nil {
		return nil, classify(ctx, err)
	}
	if out.SecretString != nil && *out.SecretString != "" {
		return []byte(*out.SecretString), nil
	}
	if len(out.SecretBinary) > 0 {
		return out.SecretBinary, nil
	}
	return nil, newError(ErrNoValue, nil, "")
}

// input builds the GetSecretValue request: VersionId wins over
// VersionStage, and AWSCURRENT is asked for when neither is set.
func input(req config.SecretRequest) *secretsmanager.GetSecretValueInput {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(req.Name)}
	switch {
	case req.VersionID != "":
		in.VersionId = aws.String(req.VersionID)
	case req.VersionStage != "":
		in.VersionStage = aws.String(req.VersionStage)
	default:
		in.VersionStage = aws.String(DefaultVersionStage)
	}
	return in
}

// regionFromIMDS is the last link of the region chain: the region of the
// EC2 instance (or ECS-on-EC2 / EKS node) we run on, from IMDSv2. Off EC2,
// or with AWS_EC2_METADATA_DISABLED=true, it fails (quickly, the metadata
// client has short timeouts) and the result is ErrNoRegion.
func regionFromIMDS(ctx context.Context, cfg *aws.Config) error {
	out, err := imds.NewFromConfig(*cfg).GetRegion(ctx, nil)
	if err == nil && out.Region != "" {
		cfg.Region = out.Region
		return nil
	}
	if ctx.Err() != nil {
		return timeoutError(ctx, err, "asking the instance metadata service for the region")
	}
	return &fetchError{kind: ErrNoRegion, msg: ErrNoRegion.Error(), cause: err}
}
