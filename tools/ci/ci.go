// Package ci holds the checks of the files a clone inherits for running
// the project elsewhere: the GitHub Actions workflow
// (.github/workflows/ci.yml) is valid and runs the same suite, on the same
// services, as .ci/run; compose.yaml, which no test can start here (there
// is no Docker engine), is valid and agrees with the code — binaries,
// flags, configuration keys, ports.
package ci
