package awssecrets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Sentinel errors. Every error FetchSecret returns matches exactly one of
// these with errors.Is, and also wraps the underlying SDK or network error.
// The error text starts with the sentinel's text and adds plain-words detail
// (the AWS error code and message where there is one); it never contains
// the secret's value.
var (
	// ErrNotFound: no secret with that name or ARN, or no version with the
	// requested stage or ID (ResourceNotFoundException).
	ErrNotFound = errors.New("not found")

	// ErrAccessDenied: the caller's IAM identity may not read the secret
	// (AccessDeniedException), or AWS rejected the credentials themselves
	// (UnrecognizedClientException, InvalidSignatureException,
	// ExpiredTokenException, ...; the text then says "invalid credentials").
	ErrAccessDenied = errors.New("access denied")

	// ErrDecryption: Secrets Manager could not decrypt the secret with its
	// KMS key, usually a missing kms:Decrypt permission (DecryptionFailure).
	ErrDecryption = errors.New("decryption failure")

	// ErrTimeout: ctx's deadline passed, or ctx was canceled, before the
	// secret was read.
	ErrTimeout = errors.New("timed out")

	// ErrNoRegion: neither the request, the environment, the shared config
	// nor the instance metadata service gave an AWS region.
	ErrNoRegion = errors.New("no AWS region: set AWS_SECRETS_REGION or AWS_REGION")

	// ErrNoCredentials: the SDK's credential chain found no usable AWS
	// credentials (no environment keys, profile, web identity, container or
	// instance role), or the configured source failed to supply them.
	ErrNoCredentials = errors.New("no AWS credentials")

	// ErrInvalidConfig: the local AWS configuration could not be loaded, for
	// example AWS_PROFILE names a profile that does not exist.
	ErrInvalidConfig = errors.New("invalid AWS configuration")

	// ErrUnreachable: the Secrets Manager endpoint could not be reached
	// (connection refused, DNS failure, no route).
	ErrUnreachable = errors.New("endpoint unreachable")

	// ErrMalformedResponse: the endpoint answered, but with something that
	// is not a valid Secrets Manager response.
	ErrMalformedResponse = errors.New("malformed response")

	// ErrNoValue: the secret version has neither a SecretString nor a
	// SecretBinary.
	ErrNoValue = errors.New("secret has no value")

	// ErrRequestFailed: any other failure; the text carries the AWS error
	// code and message, e.g. "request failed: ThrottlingException: Rate
	// exceeded".
	ErrRequestFailed = errors.New("request failed")
)

// fetchError is the concrete error type behind every failure: msg is the
// full text (starting with kind's text), kind the sentinel and cause the
// error it came from. The cause is reachable through Unwrap but is only
// quoted in msg where it cannot carry payload bytes.
type fetchError struct {
	kind  error
	msg   string
	cause error
}

func (e *fetchError) Error() string { return e.msg }

func (e *fetchError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// newError builds an error of the given kind; detail, when not empty, is
// appended after a colon.
func newError(kind, cause error, detail string) error {
	msg := kind.Error()
	if detail != "" {
		msg += ": " + detail
	}
	return &fetchError{kind: kind, msg: msg, cause: cause}
}

// timeoutError reports that ctx ended while the fetcher was doing what.
func timeoutError(ctx context.Context, cause error, what string) error {
	if errors.Is(cause, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return newError(ErrTimeout, cause, "canceled while "+what)
	}
	return newError(ErrTimeout, cause, "deadline passed while "+what)
}

// Error codes that mean AWS did not accept the credentials at all, as
// opposed to a known identity lacking permission.
var invalidCredentialCodes = map[string]bool{
	"UnrecognizedClientException": true,
	"InvalidClientTokenId":        true,
	"InvalidSignatureException":   true,
	"SignatureDoesNotMatch":       true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
	"ExpiredTokenException":       true,
	"ExpiredToken":                true,
	"InvalidAccessKeyId":          true,
}

// classify turns an error from GetSecretValue into one of the package's
// errors.
func classify(ctx context.Context, err error) error {
	// A context error anywhere in the chain means we gave up waiting, even
	// when it surfaced while reading a response body.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return timeoutError(ctx, err, "waiting for Secrets Manager")
	}

	// A response that could not be decoded may be a successful one, that
	// is the secret itself: never quote the decoder's message, which can
	// echo the bytes it choked on.
	var derr *smithy.DeserializationError
	if errors.As(err, &derr) {
		detail := "the endpoint's answer is not a valid Secrets Manager response"
		var respErr *awshttp.ResponseError
		if errors.As(err, &respErr) && respErr.HTTPStatusCode() != 0 {
			detail += fmt.Sprintf(" (HTTP %d)", respErr.HTTPStatusCode())
		}
		return newError(ErrMalformedResponse, err, detail)
	}

	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, text := apiErr.ErrorCode(), apiErr.ErrorMessage()
		switch {
		case code == "ResourceNotFoundException":
			return newError(ErrNotFound, err, describe(code, text))
		case code == "AccessDeniedException" || code == "AccessDenied":
			return newError(ErrAccessDenied, err, describe(code, text)+
				"; the role needs secretsmanager:GetSecretValue on this secret")
		case invalidCredentialCodes[code]:
			return newError(ErrAccessDenied, err, "invalid credentials: "+describe(code, text))
		case code == "DecryptionFailure":
			return newError(ErrDecryption, err, describe(code, text)+
				"; the role needs kms:Decrypt on the secret's KMS key")
		default:
			if text == "" || text == code {
				return newError(ErrRequestFailed, err, code)
			}
			return newError(ErrRequestFailed, err, code+": "+text)
		}
	}

	if ctx.Err() != nil {
		return timeoutError(ctx, err, "waiting for Secrets Manager")
	}

	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return newError(ErrTimeout, err, "the network timed out waiting for Secrets Manager")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return newError(ErrUnreachable, err, dnsErr.Error())
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return newError(ErrUnreachable, err, opErr.Error())
	}

	return newError(ErrRequestFailed, err, sdkText(err))
}

// describe renders an AWS error as "message (Code)".
func describe(code, text string) string {
	if text == "" || text == code {
		return code
	}
	return text + " (" + code + ")"
}

// sdkText is the SDK error's text without a leading "operation error
// Secrets Manager: GetSecretValue, " preamble, which adds nothing for a
// reader.
func sdkText(err error) string {
	if opErr, ok := err.(*smithy.OperationError); ok && opErr.Err != nil {
		err = opErr.Err
	}
	return strings.TrimSpace(err.Error())
}
