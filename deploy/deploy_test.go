// Package deploy_test checks that the Grafana dashboard and the Prometheus
// alert rules in deploy/ use only the metrics, and the labels, the app
// exports: a metric renamed in internal/metrics (or a label dropped) fails
// here, not silently on an operator's empty panel or an alert that can
// never fire.
package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

// exported maps each series name the app exports to its label names.
type exported map[string]map[string]bool

// targetLabels are the labels Prometheus attaches to every series it
// scrapes (the target's), which no registry exports itself.
var targetLabels = []string{"job", "instance"}

// prometheusSeries are the series Prometheus records itself for each
// target: up says whether the scrape worked, which a process that is
// down altogether cannot say with a metric of its own.
var prometheusSeries = map[string][]string{"up": nil}

// appMetrics builds the app as the web process does (testenv.NewApp: the
// registry of internal/metrics with the database pools, the job queues
// and the password hashing watched), records one of everything so that
// every vector has a series, and gathers what /metrics would show.
func appMetrics(t *testing.T) exported {
	t.Helper()
	a, _ := testenv.NewApp(t, nil)
	ctx := context.Background()
	m := a.Metrics
	m.ObserveRequest(ctx, "GET", "/", 200, time.Millisecond)
	m.ObserveTask(ctx, "email:send", nil, time.Millisecond)
	m.ObserveSessionWrite("commit")
	m.ObserveCacheError("get")
	m.ObserveCacheLookup(true)
	m.ObserveSecurityEvent("sign_in")
	m.ObserveRefusal("guess")
	m.ObserveReadiness("database", true)
	if err := a.Jobs.EnqueueMail(ctx, mail.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hi"}); err != nil {
		t.Fatal(err) // a queue to count
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := exported{}
	add := func(name string, labels []*dto.LabelPair, extra ...string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range labels {
			out[name][l.GetName()] = true
		}
		for _, l := range append(extra, targetLabels...) {
			out[name][l] = true
		}
	}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				add(f.GetName()+"_bucket", s.GetLabel(), "le")
				add(f.GetName()+"_sum", s.GetLabel())
				add(f.GetName()+"_count", s.GetLabel())
			case dto.MetricType_SUMMARY:
				add(f.GetName(), s.GetLabel(), "quantile")
				add(f.GetName()+"_sum", s.GetLabel())
				add(f.GetName()+"_count", s.GetLabel())
			default:
				add(f.GetName(), s.GetLabel())
			}
		}
	}
	for name, labels := range prometheusSeries {
		add(name, nil, labels...)
	}
	// Every watched family must be there, or the check below would call
	// a panel of it drift when the fault is this test's.
	for _, want := range []string{"launchkit_queue_tasks", "go_sql_in_use_connections", "launchkit_password_hashes_waiting", "launchkit_readiness_check_ok"} {
		if out[want] == nil {
			t.Fatalf("the registry exports no %s", want)
		}
	}
	return out
}

// promql parses PromQL as Prometheus does.
var promql = parser.NewParser(parser.Options{})

// grafanaVariables are Grafana's variables in a query: $__rate_interval
// and its kin (durations), and the dashboard's own ($job, ${route}).
var (
	grafanaDurations = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)
	grafanaVariables = regexp.MustCompile(`\$\{\w+\}|\$\w+|\[\[\w+\]\]`)
)

// unGrafana turns a Grafana query into PromQL: its variables become values
// of their kind.
func unGrafana(expr string) string {
	expr = grafanaDurations.ReplaceAllString(expr, "5m")
	return grafanaVariables.ReplaceAllString(expr, "x")
}

// check parses expr and returns a problem for each metric it selects that
// the app does not export, each label it matches on that metric does not
// have, and each label it groups or matches by that none of its metrics
// has.
func check(ex exported, expr string) []string {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("does not parse: %v", err)}
	}
	var problems []string
	used := map[string]bool{} // the labels of the metrics expr selects
	var grouping []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			labels, ok := ex[n.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("metric %q is not exported", cmpName(n.Name)))
				return nil
			}
			for l := range labels {
				used[l] = true
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !labels[m.Name] {
					problems = append(problems, fmt.Sprintf("metric %q has no label %q", n.Name, m.Name))
				}
			}
		case *parser.AggregateExpr:
			grouping = append(grouping, n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				grouping = append(grouping, n.VectorMatching.MatchingLabels...)
				grouping = append(grouping, n.VectorMatching.Include...)
			}
		}
		return nil
	})
	for _, l := range grouping {
		if !used[l] {
			problems = append(problems, fmt.Sprintf("no metric of the expression has label %q", l))
		}
	}
	return problems
}

// cmpName is a selector's name, or a note that it has none (a selector
// by matchers only cannot be checked, so it is refused).
func cmpName(name string) string {
	if name == "" {
		return "(a selector without a metric name)"
	}
	return name
}

// checkRules parses a rule file as Prometheus does (rulefmt, every expr
// and template) and, when it is valid, checks each rule's expr; it returns
// the problems.
func checkRules(ex exported, content []byte) []string {
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	var problems []string
	for _, err := range errs {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return problems // an expr that does not parse is among them
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			for _, p := range check(ex, r.Expr) {
				problems = append(problems, fmt.Sprintf("%s/%s%s: %s", g.Name, r.Alert, r.Record, p))
			}
		}
	}
	return problems
}

// labelValues reads Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// checkDashboard checks every query of a Grafana dashboard (JSON model):
// each target's expr, in panels and in rows' panels, and each variable's
// label_values query; it returns the problems and how many queries it
// read.
func checkDashboard(ex exported, content []byte) (problems []string, queries int) {
	var dash struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(content, &dash); err != nil {
		return []string{err.Error()}, 0
	}
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			for _, t := range p.Targets {
				queries++
				for _, problem := range check(ex, unGrafana(t.Expr)) {
					problems = append(problems, fmt.Sprintf("panel %q, %s: %s", p.Title, t.RefID, problem))
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		query, _ := v.Query.(string)
		if q, ok := v.Query.(map[string]any); ok {
			query, _ = q["query"].(string)
		}
		queries++
		m := labelValues.FindStringSubmatch(strings.TrimSpace(query))
		if m == nil {
			problems = append(problems, fmt.Sprintf("variable %s: query %q is not label_values(selector, label)", v.Name, query))
			continue
		}
		selector, label := unGrafana(m[1]), m[2]
		for _, problem := range check(ex, fmt.Sprintf("sum by (%s) (%s)", label, selector)) {
			problems = append(problems, fmt.Sprintf("variable %s: %s", v.Name, problem))
		}
	}
	return problems, queries
}

// panel is what checkDashboard reads of a Grafana panel.
type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAlertsAndDashboardUseExportedMetrics: the alert rules parse as
// Prometheus parses them, and every metric and label they and the
// dashboard's queries use is one the app exports.
func TestAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	ex := appMetrics(t)
	for _, p := range checkRules(ex, read(t, "prometheus/alerts.yml")) {
		t.Errorf("prometheus/alerts.yml: %s", p)
	}
	problems, queries := checkDashboard(ex, read(t, "grafana/launchkit.json"))
	for _, p := range problems {
		t.Errorf("grafana/launchkit.json: %s", p)
	}
	if queries < 20 {
		t.Errorf("the dashboard has %d queries: was it read?", queries)
	}
	// And both together show every launchkit_ metric (a new one should
	// get a panel).
	all := string(read(t, "prometheus/alerts.yml")) + string(read(t, "grafana/launchkit.json"))
	var unshown []string
	for name := range ex {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "launchkit_") && name == base && !strings.Contains(all, name) {
			unshown = append(unshown, name)
		}
	}
	sort.Strings(unshown)
	if len(unshown) > 0 {
		t.Errorf("metrics on no panel or alert: %s", strings.Join(unshown, ", "))
	}
}

// TestTheCheckFindsDrift: a rule or a panel naming a metric or a label
// the app does not export is reported, as is one that does not parse; the
// same queries with the right names are not.
func TestTheCheckFindsDrift(t *testing.T) {
	ex := appMetrics(t)
	rule := func(expr string) []byte {
		return fmt.Appendf(nil, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: %q\n", expr)
	}
	for _, c := range []struct {
		name, expr string
		want       string // in the one problem reported; empty: none
	}{
		{"the right names", `sum by (route) (rate(launchkit_http_requests_total{status=~"5.."}[5m])) > 1`, ""},
		{"a bucket with le", `histogram_quantile(0.95, sum by (le) (rate(launchkit_http_request_duration_seconds_bucket[5m])))`, ""},
		{"up from Prometheus", `up{job="launchkit"} == 0`, ""},
		{"a misspelt metric", `rate(launchkit_http_request_total[5m]) > 1`, `metric "launchkit_http_request_total" is not exported`},
		{"a histogram by its bare name", `launchkit_task_duration_seconds > 1`, `metric "launchkit_task_duration_seconds" is not exported`},
		{"a label the metric lacks", `launchkit_queue_tasks{status="pending"} > 100`, `metric "launchkit_queue_tasks" has no label "status"`},
		{"grouping by a label no metric has", `sum by (path) (rate(launchkit_http_requests_total[5m])) > 1`, `no metric of the expression has label "path"`},
		{"matching on a label no metric has", `launchkit_queue_stats_up == on (queue) launchkit_queue_stats_up`, `no metric of the expression has label "queue"`},
		{"a selector by matchers only", `{__name__=~"launchkit_.*"} > 1`, "a selector without a metric name"},
		{"PromQL that does not parse", `rate(launchkit_http_requests_total[5m]`, "unclosed left parenthesis"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for where, problems := range map[string][]string{
				"rule":  checkRules(ex, rule(c.expr)),
				"panel": first(checkDashboard(ex, fmt.Appendf(nil, `{"panels":[{"type":"row","panels":[{"title":"p","targets":[{"refId":"A","expr":%q}]}]}]}`, c.expr))),
			} {
				switch {
				case c.want == "" && len(problems) > 0:
					t.Errorf("%s: problems %q, want none", where, problems)
				case c.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], c.want)):
					t.Errorf("%s: problems %q, want one about %q", where, problems, c.want)
				}
			}
		})
	}
	// The rule file itself is checked as Prometheus would: a rule that is
	// neither alert nor record, or a bad template, fails it.
	bad := []byte("groups:\n  - name: g\n    rules:\n      - expr: up == 0\n      - alert: B\n        expr: up == 0\n        annotations:\n          summary: \"{{ $value | nosuchfunction }}\"\n")
	if problems := checkRules(ex, bad); len(problems) != 2 {
		t.Errorf("a rule without a name and a broken template: problems %q, want 2", problems)
	}
	// Grafana's variables stand for values, not for what is checked.
	if problems, _ := checkDashboard(ex, []byte(`{"panels":[{"title":"p","targets":[{"refId":"A","expr":"sum by (route) (rate(launchkit_http_requests_total{job=~\"$job\", route=~\"${route}\"}[$__rate_interval]))"}]}],`+
		`"templating":{"list":[{"name":"route","type":"query","query":{"query":"label_values(launchkit_http_requests_total{job=~\"$job\"}, route)"}},{"name":"r2","type":"query","query":"label_values(launchkit_http_requests_total, path)"}]}}`)); len(problems) != 1 || !strings.Contains(problems[0], `variable r2`) || !strings.Contains(problems[0], `"path"`) {
		t.Errorf("variables: problems %q, want one about r2's label path", problems)
	}
}

func first[A, B any](a A, _ B) A { return a }
