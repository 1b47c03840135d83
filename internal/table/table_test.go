package table

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrite(t *testing.T) {
	long := "a subject alternative name list: sip.contoso.com, webcon.contoso.com, av.contoso.com, sip.fabrikam.com"
	for _, tc := range []struct {
		name  string
		t     Table
		want  string
		limit int
	}{
		{"no limit keeps every line whole", Table{Header: []string{"ID", "NAMES"}, Rows: [][][]string{Row("x", long)}},
			"ID  NAMES\nx   " + long + "\n", 0},
		{"fits the width by wrapping the widest column", Table{Header: []string{"ID", "NAMES", "END"}, Width: 40, Rows: [][][]string{Row("x", long, "z")}},
			"", 40},
		{"multi-line cells and blank lines between rows", Table{Header: []string{"A", "B"}, Blank: true, Rows: [][][]string{{{"1"}, {"p", "q"}}, Row("2", "r")}},
			"A  B\n1  p\n   q\n\n2  r\n", 0},
		{"a header wider than the limit stays whole", Table{Header: []string{"A-VERY-LONG-HEADER", "B"}, Width: 5, Rows: [][][]string{Row("1", "2")}},
			"A-VERY-LONG-HEADER  B\n1                   2\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.t.Write(&b); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			if tc.want != "" && got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			if tc.limit > 0 {
				for _, l := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
					if utf8.RuneCountInString(l) > tc.limit {
						t.Errorf("line wider than %d: %q", tc.limit, l)
					}
				}
			}
			for _, l := range strings.Split(got, "\n") {
				if strings.HasSuffix(l, " ") {
					t.Errorf("trailing space: %q", l)
				}
			}
		})
	}
}

// TestWrapKeepsEverything: wrapped lines hold every character but the
// spaces at the breaks, none wider than asked.
func TestWrapKeepsEverything(t *testing.T) {
	long := "a subject alternative name list: sip.contoso.com, webcon.contoso.com, av.contoso.com, sip.fabrikam.com"
	for _, n := range []int{10, 17, 30} {
		lines := Wrap(long, n)
		if strings.ReplaceAll(strings.Join(lines, ""), " ", "") != strings.ReplaceAll(long, " ", "") {
			t.Errorf("width %d lost characters: %q", n, lines)
		}
		for _, l := range lines {
			if utf8.RuneCountInString(l) > n {
				t.Errorf("width %d: line %q", n, l)
			}
		}
	}
}

func TestWrapCutsWithoutSpaces(t *testing.T) {
	got := Wrap(strings.Repeat("A", 30), 12)
	if strings.Join(got, "") != strings.Repeat("A", 30) || len(got) != 3 {
		t.Fatalf("%q", got)
	}
}
