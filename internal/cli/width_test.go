package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTablesFitTheWidth: with a width to fit ($COLUMNS here, the
// terminal's on a terminal) the plan's table and warnings fit it; -o wide
// does not wrap; JSON stays complete.
func TestTablesFitTheWidth(t *testing.T) {
	args := []string{"plan", "-t", examplePath("contoso-sfb.tbxml"), "--overlay", examplePath("contoso-overlay.yaml")}
	widest := func(s string) int {
		w := 0
		for _, l := range strings.Split(s, "\n") {
			w = max(w, utf8.RuneCountInString(l))
		}
		return w
	}
	t.Setenv("COLUMNS", "")
	wide, _, code := runPlanCLI(t, args...)
	if code != ExitOK || widest(wide) <= 140 {
		t.Fatalf("the plan is %d wide without a limit; the test needs a wider one (exit %d)", widest(wide), code)
	}
	for _, cols := range []int{120, 140} {
		t.Setenv("COLUMNS", itoa(cols))
		out, _, code := runPlanCLI(t, args...)
		if code != ExitOK || widest(out) > cols {
			t.Errorf("COLUMNS=%d: %d wide (exit %d)", cols, widest(out), code)
		}
		if strings.Join(strings.Fields(out), "") == strings.Join(strings.Fields(wide), "") {
			t.Errorf("COLUMNS=%d: nothing was wrapped", cols)
		}
		if w, _, _ := runPlanCLI(t, append(args, "-o", "wide")...); w != wide {
			t.Errorf("COLUMNS=%d: -o wide differs from the table without a limit", cols)
		}
		js, _, _ := runPlanCLI(t, append(args, "-o", "json")...)
		var v map[string]any
		if err := json.Unmarshal([]byte(js), &v); err != nil || !strings.Contains(js, "Client Authentication because the reverse proxy request procedure adds it") {
			t.Errorf("COLUMNS=%d: JSON is not complete: %v", cols, err)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
