package windows

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgecert/internal/testtool"
)

// allScripts returns every PowerShell script the package writes, by name:
// the snapshot script and the install scripts of the golden cases.
func allScripts(t testing.TB) map[string][]byte {
	out := goldenScripts(t)
	out[CollectScriptName] = CollectScript()
	return out
}

// TestScriptsParse parses every script with a real PowerShell grammar
// (tree-sitter-powershell, run by Node.js from pstest/).
func TestScriptsParse(t *testing.T) {
	node := testtool.Path(t, "node")
	if _, err := os.Stat("pstest/node_modules/tree-sitter-powershell"); err != nil {
		if testtool.Required() {
			t.Fatal("the PowerShell grammar is not installed in internal/windows/pstest (run ./scripts/test.sh)")
		}
		t.Skip("the PowerShell grammar is not installed (npm ci in internal/windows/pstest)")
	}
	dir := t.TempDir()
	var files []string
	for name, body := range allScripts(t) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// A script with a syntax error must fail, or the check proves nothing.
	broken := filepath.Join(dir, "broken.ps1")
	if err := os.WriteFile(broken, []byte("if ($x -eq 1 {\n  $y = (1 +\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// One run for all (the grammar takes a while to load on a busy
	// machine): only the broken script may fail.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"parse.cjs"}, append(files, broken)...)...)
	cmd.Dir = "pstest"
	raw, err := cmd.CombinedOutput()
	out := string(raw)
	want := fmt.Sprintf("%d parsed, 1 failed", len(files))
	if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "broken.ps1:1:") {
		t.Fatalf("PowerShell grammar: %v (want %q and the broken script's error)\n%s", err, want, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "syntax error") && !strings.Contains(line, "broken.ps1:") {
			t.Errorf("%s", line)
		}
	}
}

// newerSyntax lists what Windows PowerShell 4.0 or 5.1 cannot run:
// PowerShell 7 operators and 5.0-only language features.
var newerSyntax = []struct {
	what string
	re   *regexp.Regexp
}{
	{"the ?? and ??= operators (PowerShell 7)", regexp.MustCompile(`\?\?`)},
	{"the ?. operator (PowerShell 7)", regexp.MustCompile(`\}\?\.|\?\.\w`)},
	{"pipeline chain operators && and || (PowerShell 7)", regexp.MustCompile(`&&|\|\|`)},
	{"the ternary operator (PowerShell 7)", regexp.MustCompile(`\)\s+\?\s+\S+\s+:\s`)},
	{"ForEach-Object -Parallel (PowerShell 7)", regexp.MustCompile(`(?i)-Parallel\b`)},
	{"::new() (PowerShell 5.0)", regexp.MustCompile(`(?i)\]::new\(`)},
	{"classes and enums (PowerShell 5.0)", regexp.MustCompile(`(?im)^\s*(class|enum)\s+\w+`)},
	{"using statements (PowerShell 5.0)", regexp.MustCompile(`(?im)^\s*using\s+(namespace|module|assembly)\b`)},
	{"-AsHashtable / -EnumsAsStrings (PowerShell 6+)", regexp.MustCompile(`(?i)-AsHashtable|-EnumsAsStrings`)},
}

// TestScriptsWindowsPowerShell4 checks that no script uses syntax newer
// than Windows PowerShell 4.0 (Server 2012 R2), comments aside.
func TestScriptsWindowsPowerShell4(t *testing.T) {
	for name, body := range allScripts(t) {
		t.Run(name, func(t *testing.T) {
			code := stripComments(string(body))
			for _, n := range newerSyntax {
				if loc := n.re.FindStringIndex(code); loc != nil {
					line := strings.Count(code[:loc[0]], "\n") + 1
					t.Errorf("line %d uses %s", line, n.what)
				}
			}
			// Windows PowerShell reads a file without a byte order mark in
			// the ANSI code page: anything but ASCII needs one.
			if bytes.HasPrefix(body, utf8BOM) {
				return
			}
			for i, r := range string(body) {
				if r > 0x7E || (r < 0x20 && r != '\n' && r != '\r' && r != '\t') {
					t.Errorf("byte %d: %q is not ASCII; Windows PowerShell would misread it", i, r)
					break
				}
			}
		})
	}
	// The patterns must catch what they name.
	for _, bad := range []string{"$a = $b ?? 1", "Get-Item x && Get-Item y", "$s = [Text.StringBuilder]::new()", "class Foo {", "1..3 | ForEach-Object -Parallel { $_ }", "$c = ($a) ? 1 : 2"} {
		hit := false
		for _, n := range newerSyntax {
			hit = hit || n.re.MatchString(bad)
		}
		if !hit {
			t.Errorf("no pattern catches %q", bad)
		}
	}
}

// stripComments blanks PowerShell comments (# to the end of a line, and
// <# … #> blocks), keeping line numbers.
func stripComments(s string) string {
	block := regexp.MustCompile(`(?s)<#.*?#>`)
	s = block.ReplaceAllStringFunc(s, func(m string) string { return strings.Repeat("\n", strings.Count(m, "\n")) })
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "#"); j >= 0 && !strings.ContainsAny(l[:j], `'"`) {
			lines[i] = l[:j]
		}
	}
	return strings.Join(lines, "\n")
}
