// Command cover turns the coverage data `make cover` collects (the test
// binaries' and the built binaries', in one GOCOVERDIR) into a report:
// statement coverage per package and in total for internal/ and cmd/, a
// merged profile and an HTML page.
//
//	go run ./tools/cover coverage
//
// reads coverage/data and writes coverage/cover.out and
// coverage/index.html. The denominator is the code a deploy runs and a
// newcomer changes: every package under internal/ and cmd/ except
// internal/testenv, the tests' own helper. tools/ and e2e/ (test and
// development programs) are left out; packages with no data (no test
// that ran links them: a run of some packages only) are named on one
// line, outside the total, so that none drops out unseen.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/cover DIR   (DIR/data holds the GOCOVERDIR files of a make cover run)")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cover:", err)
		os.Exit(1)
	}
}

// counted reports whether pkg (an import path relative to the module)
// is in the denominator.
func counted(rel string) bool {
	if rel == "internal/testenv" {
		return false
	}
	return rel == "cmd" || strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "internal/")
}

// tally is the statements of a package and how many of them ran.
type tally struct{ statements, covered int }

func (t tally) percent() float64 {
	if t.statements == 0 {
		return 0
	}
	return 100 * float64(t.covered) / float64(t.statements)
}

func run(dir string, stdout io.Writer) error {
	module, err := goOutput("list", "-m")
	if err != nil {
		return err
	}
	module = strings.TrimSpace(module)
	all := filepath.Join(dir, "all.out")
	if _, err := goOutput("tool", "covdata", "textfmt", "-i="+filepath.Join(dir, "data"), "-o="+all); err != nil {
		return err
	}
	profile, err := os.ReadFile(all)
	if err != nil {
		return err
	}
	kept, pkgs, err := filter(profile, module)
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "cover.out")
	if err := os.WriteFile(out, kept, 0o644); err != nil {
		return err
	}
	html := filepath.Join(dir, "index.html")
	if _, err := goOutput("tool", "cover", "-html="+out, "-o="+html); err != nil {
		return err
	}

	// Every package with code in the denominator appears, run or not.
	listed, err := goOutput("list", "-f", "{{if .GoFiles}}{{.ImportPath}}{{end}}", "./internal/...", "./cmd/...")
	if err != nil {
		return err
	}
	var missing []string
	for _, p := range strings.Fields(listed) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
		if _, ok := pkgs[rel]; !ok && counted(rel) {
			missing = append(missing, rel)
		}
	}

	names := make([]string, 0, len(pkgs))
	var total tally
	for rel, t := range pkgs {
		names = append(names, rel)
		total.statements += t.statements
		total.covered += t.covered
	}
	sort.Strings(names)
	fmt.Fprintln(stdout, "statement coverage (test binaries and the built binaries they run):")
	for _, rel := range names {
		t := pkgs[rel]
		fmt.Fprintf(stdout, "  %-26s %5.1f%%  %5d of %5d statements\n", rel, t.percent(), t.covered, t.statements)
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "  no data (linked into no test that ran), not in the total: %s\n", strings.Join(missing, " "))
	}
	fmt.Fprintf(stdout, "total (internal/ and cmd/, without internal/testenv): %.1f%% of %d statements\n", total.percent(), total.statements)
	fmt.Fprintf(stdout, "report: %s\n", html)
	return nil
}

// filter keeps the mode line and the blocks of counted packages of the
// text profile, and tallies them per package (relative to module).
func filter(profile []byte, module string) ([]byte, map[string]tally, error) {
	var kept bytes.Buffer
	pkgs := map[string]tally{}
	sc := bufio.NewScanner(bytes.NewReader(profile))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") {
			kept.WriteString(line + "\n")
			continue
		}
		// file:start.col,end.col statements count
		file, rest, ok := strings.Cut(line, ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 3 {
			return nil, nil, fmt.Errorf("unexpected profile line %q", line)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path.Dir(file), module), "/")
		if !strings.HasPrefix(file, module+"/") || !counted(rel) {
			continue
		}
		stmts, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("unexpected profile line %q", line)
		}
		t := pkgs[rel]
		t.statements += stmts
		if count > 0 {
			t.covered += stmts
		}
		pkgs[rel] = t
		kept.WriteString(line + "\n")
	}
	return kept.Bytes(), pkgs, sc.Err()
}

func goOutput(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}
