package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// metricRef finds the agent's metric names in a PromQL expression.
var metricRef = regexp.MustCompile(`\bvipsentinel_[a-z0-9_]+`)

// checkExpr fails t unless expr names at least one metric and every metric
// it names is one the agent exports (a histogram's _bucket, _sum and
// _count series included).
func checkExpr(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	if len(refs) == 0 {
		t.Errorf("%s: %q names no vipsentinel metric", where, expr)
	}
	for _, r := range refs {
		base := r
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(r, suffix); ok && known[b] {
				base = b
			}
		}
		if !known[base] {
			t.Errorf("%s: %q names %s, which the agent does not export", where, expr, r)
		}
	}
}

func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	fams, err := families()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range fams {
		known[f.name] = true
	}
	return known
}

// TestDashboard lints the Grafana dashboard: it parses, panels have unique
// ids and fit the 24-column grid, every query uses the datasource variable,
// and every expression names metrics the agent exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "monitoring/vipsentinel-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels")
	}
	known := knownMetrics(t)
	ids := map[int]bool{}
	queries := 0
	for _, p := range dash.Panels {
		where := "panel " + p.Title
		if ids[p.ID] {
			t.Errorf("%s: id %d used twice", where, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", where, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %d: no title or no query", p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource is not the ${datasource} variable", where)
		}
		for _, q := range p.Targets {
			checkExpr(t, where, q.Expr, known)
			queries++
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			checkExpr(t, "variable "+v.Name, v.Definition, known)
		}
	}
	for _, a := range dash.Annotations.List {
		checkExpr(t, "annotation", a.Expr, known)
	}
	// Every metric an alert or an operator looks at first is on it.
	for _, m := range []string{"vipsentinel_vip_held", "vipsentinel_master_address_info", "vipsentinel_replica_lag_bytes",
		"vipsentinel_peer_hello_age_seconds", "vipsentinel_state_save_failures_total", "vipsentinel_script_failures_total",
		"vipsentinel_failover_duration_seconds_bucket", "vipsentinel_events_total"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
	t.Logf("%d panels, %d queries", len(dash.Panels), queries)
}

// TestAlertRules checks that every alert expression names metrics the
// agent exports, then has promtool check the rules and run their unit tests.
func TestAlertRules(t *testing.T) {
	rules := filepath.Join(root, "monitoring/vipsentinel-alerts.yml")
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	known := knownMetrics(t)
	exprs := regexp.MustCompile(`(?m)^\s+expr: (.+)$`).FindAllStringSubmatch(string(b), -1)
	if len(exprs) < 10 {
		t.Fatalf("found %d alert expressions", len(exprs))
	}
	for _, e := range exprs {
		checkExpr(t, "alert rule", e[1], known)
	}

	promtool := testenv.NeedTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "vipsentinel-alerts.yml"},
		{"test", "rules", "vipsentinel-alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Join(root, "monitoring")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
