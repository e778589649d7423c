package testenv

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CoverPackages are the packages a built binary measures when the test
// that runs it measures coverage: the same set `make cover` gives go test.
const CoverPackages = "./internal/...,./cmd/..."

// coverDir is the directory the running test binary writes its coverage
// data to (go test -cover sets it; make cover chooses it), or "" when the
// test does not measure coverage.
func coverDir() string {
	if testing.CoverMode() == "" {
		return ""
	}
	f := flag.Lookup("test.gocoverdir")
	if f == nil || f.Value.String() == "" {
		return ""
	}
	dir, err := filepath.Abs(f.Value.String())
	if err != nil {
		return ""
	}
	return dir
}

// BuildBinaries builds the main packages pkgs (patterns relative to the
// module root, such as "./cmd/web") into dir as make build does: static
// (CGO_ENABLED=0) and -trimpath. When the test measures coverage (go test
// -cover, make cover), the binaries are built with -cover over
// CoverPackages, so that what they run counts in the report; run them
// with BinaryEnv in their environment.
func BuildBinaries(root, dir string, pkgs ...string) ([]byte, error) {
	args := []string{"build", "-trimpath", "-o", dir + string(os.PathSeparator)}
	if coverDir() != "" {
		args = append(args, "-cover", "-covermode="+testing.CoverMode(), "-coverpkg="+CoverPackages)
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

// BinaryEnv returns env with, when the test measures coverage, GOCOVERDIR
// set to the test's coverage directory, where binaries built by
// BuildBinaries (and this test binary run as a child) write what they
// covered. Without it such a binary prints a warning and its coverage is
// lost.
func BinaryEnv(env ...string) []string {
	if dir := coverDir(); dir != "" {
		return append(env[:len(env):len(env)], "GOCOVERDIR="+dir)
	}
	return env
}
