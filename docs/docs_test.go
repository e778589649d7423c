package docs_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const deployGuide = "deploy-with-secrets.md"

// block is one fenced code block of a Markdown file.
type block struct {
	lang string
	line int // line of the opening fence, 1-based
	body string
}

// fencedBlocks returns the file's fenced code blocks in order. It fails the
// test on a fence that is never closed.
func fencedBlocks(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks []block
		cur    *block
		body   []string
	)
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: i + 1}
			body = body[:0]
		case cur != nil && trimmed == "```":
			cur.body = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: code fence is never closed", path, cur.line)
	}
	return blocks
}

func blocksOf(blocks []block, lang string) []block {
	var out []block
	for _, b := range blocks {
		if b.lang == lang {
			out = append(out, b)
		}
	}
	return out
}

// TestDeployGuideFencesAreTagged makes sure no JSON, YAML or shell hides in
// an untagged fence, where the checks below would not see it.
func TestDeployGuideFencesAreTagged(t *testing.T) {
	for _, b := range fencedBlocks(t, deployGuide) {
		switch b.lang {
		case "json", "yaml", "sh", "text":
		default:
			t.Errorf("%s:%d: code fence tagged %q, want json, yaml, sh or text", deployGuide, b.line, b.lang)
		}
	}
}

func TestDeployGuideJSONIsValid(t *testing.T) {
	blocks := blocksOf(fencedBlocks(t, deployGuide), "json")
	if len(blocks) == 0 {
		t.Fatal("no ```json block")
	}
	for _, b := range blocks {
		var v any
		if err := json.Unmarshal([]byte(b.body), &v); err != nil {
			t.Errorf("%s:%d: invalid JSON: %v", deployGuide, b.line, err)
		}
	}
}

func TestDeployGuideYAMLIsValid(t *testing.T) {
	blocks := blocksOf(fencedBlocks(t, deployGuide), "yaml")
	if len(blocks) == 0 {
		t.Fatal("no ```yaml block")
	}
	for _, b := range blocks {
		dec := yaml.NewDecoder(strings.NewReader(b.body))
		docs, failed := 0, false
		for {
			var v any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s:%d: invalid YAML in document %d: %v", deployGuide, b.line, docs+1, err)
				failed = true
				break
			}
			if v == nil {
				t.Errorf("%s:%d: YAML document %d is empty", deployGuide, b.line, docs+1)
			}
			docs++
		}
		if docs == 0 && !failed {
			t.Errorf("%s:%d: YAML block has no document", deployGuide, b.line)
		}
	}
}

// TestDeployGuideIAMPolicies checks every JSON block that is an IAM policy
// document (it has a Statement) and that the permissions policy grants what
// Launchkit needs, on the right resources.
func TestDeployGuideIAMPolicies(t *testing.T) {
	type statement struct {
		Effect    string
		Action    any
		Resource  any
		Principal any
		Condition map[string]map[string]any
	}
	type policy struct {
		Version   string
		Statement []statement
	}

	found := map[string]bool{}
	policies := 0
	for _, b := range blocksOf(fencedBlocks(t, deployGuide), "json") {
		if !strings.Contains(b.body, `"Statement"`) {
			continue
		}
		policies++
		var p policy
		if err := json.Unmarshal([]byte(b.body), &p); err != nil {
			t.Errorf("%s:%d: policy does not decode: %v", deployGuide, b.line, err)
			continue
		}
		if p.Version != "2012-10-17" {
			t.Errorf("%s:%d: policy Version %q, want 2012-10-17", deployGuide, b.line, p.Version)
		}
		if len(p.Statement) == 0 {
			t.Errorf("%s:%d: policy has no statements", deployGuide, b.line)
		}
		for _, st := range p.Statement {
			if st.Effect != "Allow" {
				t.Errorf("%s:%d: statement Effect %q, want Allow", deployGuide, b.line, st.Effect)
			}
			for _, action := range strs(st.Action) {
				found[action] = true
				resources := strs(st.Resource)
				switch action {
				case "secretsmanager:GetSecretValue":
					for _, r := range resources {
						if !strings.HasPrefix(r, "arn:aws:secretsmanager:") || !strings.HasSuffix(r, "-??????") {
							t.Errorf("%s:%d: GetSecretValue on %q, want one secret's ARN ending in -??????", deployGuide, b.line, r)
						}
					}
					if len(resources) == 0 {
						t.Errorf("%s:%d: GetSecretValue without a Resource", deployGuide, b.line)
					}
				case "kms:Decrypt":
					for _, r := range resources {
						if !strings.HasPrefix(r, "arn:aws:kms:") || strings.Contains(r, "*") {
							t.Errorf("%s:%d: kms:Decrypt on %q, want one key's ARN", deployGuide, b.line, r)
						}
					}
					via, _ := st.Condition["StringEquals"]["kms:ViaService"].(string)
					if !strings.HasPrefix(via, "secretsmanager.") || !strings.HasSuffix(via, ".amazonaws.com") {
						t.Errorf("%s:%d: kms:Decrypt lacks a kms:ViaService secretsmanager.<region>.amazonaws.com condition", deployGuide, b.line)
					}
				}
			}
		}
	}
	if policies == 0 {
		t.Fatal("no IAM policy block")
	}
	for _, want := range []string{"secretsmanager:GetSecretValue", "kms:Decrypt"} {
		if !found[want] {
			t.Errorf("no IAM policy grants %s", want)
		}
	}
	for action := range found {
		if strings.HasPrefix(action, "secretsmanager:") && action != "secretsmanager:GetSecretValue" {
			t.Errorf("policy grants %s; Launchkit only needs secretsmanager:GetSecretValue", action)
		}
	}
}

// strs reads an IAM "one string or a list of strings" field.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// awsCommands are the aws CLI subcommands the guide may use, by service. A
// typo or an invented subcommand in a copy-paste block fails the test.
var awsCommands = map[string]map[string]bool{
	"secretsmanager": set("create-secret", "put-secret-value", "get-secret-value", "describe-secret",
		"update-secret", "list-secret-version-ids", "update-secret-version-stage", "rotate-secret"),
	"iam": set("create-role", "put-role-policy", "attach-role-policy", "create-policy"),
	"ecs": set("register-task-definition", "update-service", "describe-services"),
	"eks": set("create-pod-identity-association", "describe-cluster"),
	"sts": set("get-caller-identity"),
	"kms": set("create-key", "describe-key"),
}

// Global aws CLI options that take a value.
var awsValueOptions = set("--endpoint-url", "--region", "--profile", "--output", "--query")

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

func TestDeployGuideShellCommands(t *testing.T) {
	blocks := blocksOf(fencedBlocks(t, deployGuide), "sh")
	if len(blocks) == 0 {
		t.Fatal("no ```sh block")
	}
	commands := 0
	for _, b := range blocks {
		// Join backslash continuations into one logical line.
		joined := strings.ReplaceAll(b.body, "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || (fields[0] != "aws" && fields[0] != "awslocal") {
				continue
			}
			commands++
			var words []string
			for i := 1; i < len(fields); i++ {
				f := fields[i]
				if strings.HasPrefix(f, "--") {
					if awsValueOptions[f] && len(words) == 0 {
						i++ // skip the global option's value
					}
					continue
				}
				words = append(words, f)
				if len(words) == 2 {
					break
				}
			}
			if len(words) < 2 {
				t.Errorf("%s:%d: %q names no service and subcommand", deployGuide, b.line, line)
				continue
			}
			service, sub := words[0], words[1]
			if subs, ok := awsCommands[service]; !ok || !subs[sub] {
				t.Errorf("%s:%d: unknown aws command %q %q in %q", deployGuide, b.line, service, sub, line)
			}
		}
	}
	if commands == 0 {
		t.Error("no aws command in any ```sh block")
	}
}

// TestDeployGuideCoversTheSettings keeps the guide in step with the
// configuration it documents.
func TestDeployGuideCoversTheSettings(t *testing.T) {
	data, err := os.ReadFile(deployGuide)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"APPLICATION_SETTINGS", "-config",
		"AWS_SECRETS_MANAGER_CONFIG", "AWS_SECRETS_REGION", "AWS_SECRETS_VERSION_STAGE",
		"AWS_SECRETS_VERSION_ID", "AWS_SECRETS_TIMEOUT", "AWSCURRENT", "10s",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://localhost:4566",
		"create-secret --name launchkit/production", "--secret-string file://secret.json",
		"taskRoleArn", "eks.amazonaws.com/role-arn", "create-pod-identity-association",
		"manage config --check", "secret:launchkit/dev", "IMDSv2",
		"SECRET_KEY_FALLBACKS", "TestSecretKeyRotationKeepsVisitorsSignedIn",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not mention %q", deployGuide, want)
		}
	}
}

// TestDeployGuideNamesRealTests: a test the guide cites as proof exists.
func TestDeployGuideNamesRealTests(t *testing.T) {
	src, err := os.ReadFile("../internal/web/sessions_end_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "func TestSecretKeyRotationKeepsVisitorsSignedIn(") {
		t.Error("the deploy guide cites TestSecretKeyRotationKeepsVisitorsSignedIn, which internal/web no longer has")
	}
}
