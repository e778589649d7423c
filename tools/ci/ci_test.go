package ci_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

const workflowPath = "../../.github/workflows/ci.yml"

// TestWorkflowIsValid: actionlint finds nothing wrong with the workflow
// (syntax, expressions, action inputs, runner labels).
func TestWorkflowIsValid(t *testing.T) {
	content, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Color: actionlint.ColorOptionKindNever})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.Lint(filepath.Base(workflowPath), content, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", workflowPath, e.Line, e.Column, e.Message, e.Kind)
	}
}

// TestWorkflowRunsTheSuiteOnTheServices: the workflow starts PostgreSQL,
// MariaDB and Redis, points the TEST_* URLs at them, and runs make test COVER=1
// (the whole suite, measuring coverage) and make lint — what .ci/run runs.
func TestWorkflowRunsTheSuiteOnTheServices(t *testing.T) {
	content, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	w, errs := actionlint.Parse(content)
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs[0])
	}
	ciRun, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range w.Jobs {
		var images []string
		if j.Services != nil {
			for _, s := range j.Services.Value {
				images = append(images, s.Container.Image.Value)
			}
		}
		env := map[string]string{}
		if j.Env != nil {
			for _, v := range j.Env.Vars {
				env[v.Name.Value] = v.Value.Value
			}
		}
		var runs []string
		for _, s := range j.Steps {
			if r, ok := s.Exec.(*actionlint.ExecRun); ok && r.Run != nil {
				runs = append(runs, strings.TrimSpace(r.Run.Value))
			}
		}
		for _, want := range []string{"postgres", "mariadb", "redis"} {
			if !slices.ContainsFunc(images, func(img string) bool { return strings.HasPrefix(img, want+":") }) {
				t.Errorf("job %s has no %s service (services: %v)", j.ID.Value, want, images)
			}
		}
		for _, key := range []string{"TEST_DATABASE_URL", "TEST_MYSQL_URL", "TEST_REDIS_URL"} {
			if env[key] == "" || !strings.Contains(string(ciRun), key) {
				t.Errorf("job %s does not set %s as .ci/run does", j.ID.Value, key)
			}
		}
		for _, cmd := range []string{"make test COVER=1", "make lint"} {
			if !slices.Contains(runs, cmd) || !strings.Contains(string(ciRun), cmd) {
				t.Errorf("job %s does not run %q as .ci/run does (runs %q)", j.ID.Value, cmd, runs)
			}
		}
	}
	if len(w.Jobs) == 0 {
		t.Error("the workflow has no jobs")
	}
}

// TestCoverageRunWritesToCoverage: make test COVER=1, what CI runs, is
// make cover with its report in coverage/ (git-ignored), whatever the
// COVER=1 given on the command line does to the recursive make's
// variables (a Makefile variable named COVER once became "1": the run
// removed and wrote ./1).
func TestCoverageRunWritesToCoverage(t *testing.T) {
	out, err := exec.Command("make", "-n", "-C", "../..", "test", "COVER=1").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n test COVER=1: %v\n%s", err, out)
	}
	plan := string(out)
	for _, want := range []string{"rm -rf coverage && mkdir -p coverage/data", "/coverage/data", "tools/cover coverage"} {
		if !strings.Contains(plan, want) {
			t.Errorf("make test COVER=1 does not run %q:\n%s", want, plan)
		}
	}
}
