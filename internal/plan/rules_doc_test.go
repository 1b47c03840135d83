package plan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var updateRules = flag.Bool("update-rules", false, "rewrite docs/rules.md from the rule table")

// TestRulesDoc: docs/rules.md is what the rule table generates.
func TestRulesDoc(t *testing.T) {
	var b bytes.Buffer
	if err := WriteRulesMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/rules.md"
	if *updateRules {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatal("docs/rules.md is out of date: go test ./internal/plan -run TestRulesDoc -update-rules")
	}
}

// TestEveryCitedRuleIsExplained: every R, L or M id in the code of the
// planner, the verifier and the apply steps is in the rule table, and
// the table holds each id once.
func TestEveryCitedRuleIsExplained(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range ruleTable {
		if seen[r.ID] {
			t.Errorf("rule %s twice in the table", r.ID)
		}
		seen[r.ID] = true
	}
	id := regexp.MustCompile(`"([RLM][0-9]{1,3})"`)
	var files []string
	for _, dir := range []string{".", "../verify", "../apply", "../topology", "../proxy"} {
		m, _ := filepath.Glob(dir + "/*.go")
		files = append(files, m...)
	}
	cited := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range id.FindAllSubmatch(b, -1) {
			cited++
			if _, ok := RuleByID(string(m[1])); !ok {
				t.Errorf("%s cites rule %s, which the rule table does not explain", f, m[1])
			}
		}
	}
	if cited < 20 {
		t.Fatalf("found %d cited rule ids; the test no longer finds them", cited)
	}
}
