// Package ci holds the checks of the repository's own CI set-up: the
// GitHub Actions workflow a clone inherits (.github/workflows/ci.yml) is
// valid and runs the same suite, on the same services, as .ci/run.
package ci
