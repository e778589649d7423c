package ci_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/testenv"
)

// loadCompose loads and validates compose.yaml as docker compose would.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "compose.yaml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("launchkit", true) })
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

// sdkEnv are the variables the AWS SDK itself reads: not configuration
// keys, but what a process needs to reach Secrets Manager.
var sdkEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}

// ours are the services running Launchkit's own image, by binary.
func ours(p *types.Project) map[string]types.ServiceConfig {
	out := map[string]types.ServiceConfig{}
	for name, s := range p.Services {
		if s.Build != nil {
			out[name] = s
		}
	}
	return out
}

func envOf(s types.ServiceConfig) map[string]string {
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

// TestComposeHasTheProductionShape: two webs behind a proxy, two
// workers, PostgreSQL, Redis, Mailpit and LocalStack; every Launchkit
// service runs one of the image's binaries, with environment keys the
// configuration knows (or the AWS SDK reads), values it accepts, and the
// proxy, ports and secret name agreeing with them.
func TestComposeHasTheProductionShape(t *testing.T) {
	p := loadCompose(t)
	for name, image := range map[string]string{"proxy": "caddy", "postgres": "postgres", "redis": "redis", "mailpit": "axllent/mailpit", "localstack": "localstack/localstack"} {
		if s, ok := p.Services[name]; !ok || !strings.HasPrefix(s.Image, image) {
			t.Errorf("service %s: want an %s image", name, image)
		}
	}
	binaries := map[string][]string{}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Name] = true
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range ours(p) {
		if len(s.Command) == 0 || !slices.Contains([]string{"/web", "/worker", "/manage"}, s.Command[0]) {
			t.Errorf("service %s runs %q, not one of the image's /web, /worker, /manage", name, s.Command)
			continue
		}
		if !strings.Contains(string(dockerfile), "-o /out"+s.Command[0]+" ./cmd"+s.Command[0]) {
			t.Errorf("service %s runs %s, which the Dockerfile does not build", name, s.Command[0])
		}
		binaries[s.Command[0]] = append(binaries[s.Command[0]], name)
		env := envOf(s)
		for k := range env {
			if !known[k] && !slices.Contains(sdkEnv, k) {
				t.Errorf("service %s sets %s, which is no configuration key", name, k)
			}
		}
		// The configuration each would load, the secret layer aside (its
		// SECRET_KEY comes from LocalStack), is valid.
		getenv := func(k string) string {
			switch k {
			case "AWS_SECRETS_MANAGER_CONFIG":
				return ""
			case "SECRET_KEY":
				return strings.Repeat("k", 40)
			}
			return env[k]
		}
		if _, err := config.Load(context.Background(), config.Options{Getenv: getenv}); err != nil {
			t.Errorf("service %s: its configuration does not load: %v", name, err)
		}
	}
	for _, names := range binaries {
		slices.Sort(names)
	}
	if len(binaries["/web"]) != 2 || len(binaries["/worker"]) != 2 {
		t.Errorf("webs %v and workers %v: want two of each", binaries["/web"], binaries["/worker"])
	}

	// The proxy balances over exactly the web services, on their port,
	// and listens where BASE_URL says the site is.
	caddyfile := p.Configs["caddyfile"].Content
	upstreams := regexp.MustCompile(`\b(web\d+):(\d+)\b`).FindAllStringSubmatch(caddyfile, -1)
	var targets []string
	for _, u := range upstreams {
		targets = append(targets, u[1])
		if u[2] != "8000" || !strings.Contains(string(dockerfile), "ENV ADDR=:"+u[2]) {
			t.Errorf("the proxy sends to %s:%s, but the image's web listens on the Dockerfile's ADDR", u[1], u[2])
		}
	}
	slices.Sort(targets)
	if !slices.Equal(targets, binaries["/web"]) {
		t.Errorf("the proxy balances over %v, want the web services %v", targets, binaries["/web"])
	}
	if !strings.Contains(caddyfile, "health_uri /readyz") {
		t.Error("the proxy does not probe /readyz, so a draining web would still get traffic")
	}
	web := envOf(p.Services["web1"])
	published := p.Services["proxy"].Ports
	if len(published) != 1 || !strings.HasSuffix(web["BASE_URL"], ":"+published[0].Published) || !strings.Contains(caddyfile, ":"+published[0].Published+" {") {
		t.Errorf("BASE_URL %s, the proxy's published ports %v and its site address disagree", web["BASE_URL"], published)
	}
	if web["MAIL_SERVER"] != "mailpit" || web["MAIL_PORT"] != "1025" {
		t.Errorf("mail goes to %s:%s, want Mailpit's SMTP port mailpit:1025", web["MAIL_SERVER"], web["MAIL_PORT"])
	}
	secret := web["AWS_SECRETS_MANAGER_CONFIG"]
	script, err := os.ReadFile("../../deploy/localstack/ready.d/create-secret.sh")
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" || !strings.Contains(string(script), "--name "+secret) || !slices.Contains(p.Services["localstack"].HealthCheck.Test, secret) {
		t.Errorf("the services read the secret %q, which LocalStack's ready script and health check must create and find", secret)
	}
}

// TestComposeManageCommandsRun: each one-shot manage command of
// compose.yaml runs, flags and all, with the real binary (on SQLite
// here).
func TestComposeManageCommandsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bin/manage: not in -short")
	}
	p := loadCompose(t)
	dir := t.TempDir()
	manage := filepath.Join(dir, "manage")
	if out, err := testenv.BuildBinaries("../..", dir, "./cmd/manage"); err != nil {
		t.Fatalf("build manage: %v\n%s", err, out)
	}
	// In the order compose runs them: migrate before seed.
	for _, name := range []string{"migrate", "seed"} {
		s, ok := p.Services[name]
		if !ok || len(s.Command) == 0 || s.Command[0] != "/manage" {
			t.Fatalf("service %s is not a manage command: %v", name, s.Command)
		}
		cmd := exec.Command(manage, s.Command[1:]...)
		cmd.Dir = dir
		cmd.Env = testenv.BinaryEnv("PATH="+os.Getenv("PATH"), "HOME="+dir, "DATABASE_URL=sqlite://"+filepath.Join(dir, "app.db"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("service %s: manage %s: %v\n%s", name, strings.Join(s.Command[1:], " "), err, out)
		}
	}
}
