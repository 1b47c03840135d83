package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenExample is one example topology of examples/ and its overlay.
type goldenExample struct {
	name, file, overlay string
}

// goldenExamples lists every example topology: each YAML file except the
// overlay, the Topology Builder sample with its overlay, and the real
// Topology Builder documents of internal/topology/testdata/real.
func goldenExamples(t *testing.T) []goldenExample {
	t.Helper()
	dir := filepath.Join("..", "..", "examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenExample
	for _, f := range files {
		base := filepath.Base(f)
		if strings.Contains(base, "overlay") {
			continue
		}
		out = append(out, goldenExample{name: strings.TrimSuffix(base, ".yaml"), file: f})
	}
	out = append(out, goldenExample{name: "contoso-sfb", file: filepath.Join(dir, "contoso-sfb.tbxml"), overlay: filepath.Join(dir, "contoso-overlay.yaml")})
	// The real Topology Builder documents of the topology package's test
	// data (see its README), each planned as it is, with no overlay.
	real, err := filepath.Glob(filepath.Join("..", "topology", "testdata", "real", "*.*xml"))
	if err != nil || len(real) < 3 {
		t.Fatalf("real documents: %v, %v", real, err)
	}
	for _, f := range real {
		out = append(out, goldenExample{name: "real-" + strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)), file: f})
	}
	if len(out) < 9 {
		t.Fatalf("found %d examples, want at least 9", len(out))
	}
	return out
}

func loadExample(t testing.TB, ex goldenExample) *Plan {
	t.Helper()
	tp, err := topology.Load(ex.file, ex.overlay)
	if err != nil {
		t.Fatalf("load %s: %v", ex.file, err)
	}
	p, err := Build(tp)
	if err != nil {
		t.Fatalf("plan %s: %v", ex.file, err)
	}
	return p
}

// renderJSON renders p as the plan command does with -o json.
func renderJSON(t testing.TB, p *Plan) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func renderTable(t testing.TB, p *Plan, explain bool) []byte {
	var b bytes.Buffer
	if err := WriteTable(&b, p, explain, 0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGoldenPlans compares the plan of every example, as a table (with
// --explain) and as JSON, to testdata/golden. Run with -update to rewrite
// them, then review the difference against the rules before committing.
func TestGoldenPlans(t *testing.T) {
	for _, ex := range goldenExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			p := loadExample(t, ex)
			checkFriendlyNames(t, p)
			table := renderTable(t, p, true)
			for i, line := range strings.Split(string(table), "\n") {
				if strings.HasSuffix(line, " ") || strings.Contains(line, "\t") {
					t.Errorf("table line %d has trailing spaces or tabs: %q", i+1, line)
				}
			}
			golden(t, ex.name+".txt", table)
			golden(t, ex.name+".json", renderJSON(t, p))
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update and review):\n%s", name, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first line that differs.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + w + "\n  got: " + g
		}
	}
	return ""
}

// TestDeterministic plans each example many times, from freshly loaded
// topologies, and requires byte-identical output in every form.
func TestDeterministic(t *testing.T) {
	for _, ex := range goldenExamples(t) {
		first := loadExample(t, ex)
		wantT, wantJ := renderTable(t, first, true), renderJSON(t, first)
		for i := 0; i < 20; i++ {
			p := loadExample(t, ex)
			if !bytes.Equal(renderTable(t, p, true), wantT) || !bytes.Equal(renderJSON(t, p), wantJ) {
				t.Fatalf("%s: run %d differs", ex.name, i)
			}
		}
	}
}
