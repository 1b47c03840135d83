package topology_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// edit is one change to testdata/base.yaml: line n (1-based) becomes text;
// n past the end appends.
type edit struct {
	n    int
	text string
}

// want is the expected problem: its rule, on line `line`, at the column
// where `at` first occurs on that line (after `skip` earlier occurrences).
type want struct {
	rule string
	line int
	at   string
	skip int
}

func readBase(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func applyEdits(lines []string, edits []edit) []string {
	out := append([]string(nil), lines...)
	for _, e := range edits {
		for e.n > len(out) {
			out = append(out, "")
		}
		out[e.n-1] = e.text
	}
	return out
}

// column returns the 1-based column of the (skip+1)th occurrence of at.
func column(t *testing.T, line, at string, skip int) int {
	t.Helper()
	off := 0
	for i := 0; ; i++ {
		j := strings.Index(line[off:], at)
		if j < 0 {
			t.Fatalf("test bug: %q not in line %q", at, line)
		}
		if i == skip {
			return off + j + 1
		}
		off += j + 1
	}
}

func problemsOf(t *testing.T, err error) topology.Problems {
	t.Helper()
	if err == nil {
		t.Fatal("the topology was accepted, want problems")
	}
	if !errors.Is(err, topology.ErrInvalid) {
		t.Fatalf("error %v does not match ErrInvalid", err)
	}
	var ps topology.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not Problems", err)
	}
	return ps
}

func hasProblem(ps topology.Problems, file, rule string, line, col int) bool {
	for _, p := range ps {
		if p.Rule == rule && p.Pos.File == file && p.Pos.Line == line && p.Pos.Col == col {
			return p.Msg != "" && p.Fix != ""
		}
	}
	return false
}

func TestBaseIsValid(t *testing.T) {
	topo, err := topology.ParseYAML("base.yaml", []byte(strings.Join(readBase(t), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := topo.Sites[0].ReverseProxies[0].Publishes; len(got) != 2 {
		t.Errorf("publishes = %v", got)
	}
}

// TestRules runs one named case per validation rule: each breaks the base
// topology in one place and expects the rule id at that exact line:column.
func TestRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			lines := applyEdits(readBase(t), tc.edits)
			_, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(lines, "\n")+"\n"))
			ps := problemsOf(t, err)
			col := column(t, lines[tc.want.line-1], tc.want.at, tc.want.skip)
			if !hasProblem(ps, "topo.yaml", tc.want.rule, tc.want.line, col) {
				t.Errorf("want [%s] at topo.yaml:%d:%d, got:\n%v", tc.want.rule, tc.want.line, col, ps)
			}
		})
	}
}

var ruleCases = []struct {
	name  string
	edits []edit
	want  want
}{
	{"unknown-key/top", []edit{{12, "mobilty: true"}}, want{"unknown-key", 12, "mobilty", 0}},
	{"unknown-key/edge", []edit{{33, "        externalissuer: public"}}, want{"unknown-key", 33, "externalissuer", 0}},
	{"unknown-key/organization", []edit{{4, "  countryname: US"}}, want{"unknown-key", 4, "countryname", 0}},
	{"duplicate-key", []edit{{12, "version: 1"}}, want{"duplicate-key", 12, "version", 0}},
	{"type/bool", []edit{{12, "mobility: yes"}}, want{"type", 12, "yes", 0}},
	{"type/list", []edit{{5, "sip_domains: contoso.com"}}, want{"type", 5, "contoso.com", 0}},
	{"type/string", []edit{{17, "  - name: [Redmond]"}}, want{"type", 17, "[", 0}},
	{"type/int", []edit{{15, "  bits: lots"}}, want{"type", 15, "lots", 0}},
	{"type/mapping", []edit{{2, "organization: Contoso"}, {3, ""}, {4, ""}}, want{"type", 2, "Contoso", 0}},
	{"version/missing", []edit{{1, "# no version"}}, want{"version", 2, "organization", 0}},
	{"version/unsupported", []edit{{1, "version: 2"}}, want{"version", 1, "2", 0}},
	{"required/sip_domains", []edit{{5, "sip_domains: []"}}, want{"required", 5, "[]", 0}},
	{"required/edge-servers", []edit{{28, "        servers: []"}}, want{"required", 27, "fqdn", 0}},
	{"required/edge-access", []edit{{30, "        # no access"}}, want{"required", 27, "fqdn", 0}},
	{"required/site-name", []edit{{17, "  - pools: []"}, {18, "    reverse_proxies: []"}, {19, "    edge_pools: []"},
		{20, ""}, {21, ""}, {22, ""}, {23, ""}, {24, ""}, {25, ""}, {26, ""}, {27, ""}, {28, ""}, {29, ""}, {30, ""},
		{31, ""}, {32, ""}, {33, ""}, {34, ""}, {35, ""}, {36, ""}, {37, ""}, {38, ""}, {39, ""}, {40, ""}}, want{"required", 17, "pools", 0}},
	{"R83/missing-meet", []edit{{9, "    # no meet URL for fabrikam.com"}}, want{"R83", 7, "meet", 0}},
	{"R83/meet-not-sip-domain", []edit{{9, "    fabrikam.org: https://meet.fabrikam.com"}}, want{"R83", 9, "fabrikam.org", 0}},
	{"R83/missing-dialin", []edit{{10, "  # no dialin"}}, want{"R83", 6, "simple_urls", 0}},
	{"R84/prefix", []edit{{11, "  admin: https://meet.contoso.com/admin"}}, want{"R84", 11, "https", 0}},
	{"R84/port", []edit{{10, "  dialin: https://dialin.contoso.com:443"}}, want{"R84", 10, "https", 0}},
	{"R84/not-https", []edit{{10, "  dialin: http://dialin.contoso.com"}}, want{"R84", 10, "http", 0}},
	{"R84/characters", []edit{{10, "  dialin: https://dial-in.contoso.com"}}, want{"R84", 10, "https", 0}},
	{"R84/pool-fqdn", []edit{{10, "  dialin: https://pool01.contoso.net/dialin"}}, want{"R84", 10, "https", 0}},
	{"R84/not-unique", []edit{{11, "  admin: https://dialin.contoso.com"}}, want{"R84", 11, "https", 0}},
	{"R7/pool-fqdn", []edit{{19, "      - fqdn: '*.contoso.net'"}}, want{"R7", 19, "'*", 0}},
	{"R7/director-fqdn", []edit{{23, "      - fqdn: '*.contoso.net'"}}, want{"R7", 23, "'*", 0}},
	{"R7/edge-fqdn", []edit{{27, "      - fqdn: '*.contoso.net'"}}, want{"R7", 27, "'*", 0}},
	{"R7/access", []edit{{30, "        access: '*.contoso.com'"}}, want{"R7", 30, "'*", 0}},
	{"R7/webconf", []edit{{31, "        webconf: '*.contoso.com'"}}, want{"R7", 31, "'*", 0}},
	{"R7/av", []edit{{32, "        av: '*.contoso.com'"}}, want{"R7", 32, "'*", 0}},
	{"R7/web_external", []edit{{21, "        web_external: '*.contoso.com'"}}, want{"R7", 21, "'*", 0}},
	{"R7/web_internal", []edit{{21, "        web_internal: '*.contoso.net'"}}, want{"R7", 21, "'*", 0}},
	{"server-in-two-pools", []edit{{24, "        servers: [fe01.contoso.net]"}}, want{"server-in-two-pools", 24, "fe01", 0}},
	{"server-in-two-pools/edge-and-proxy", []edit{{36, "        servers: [edge02.contoso.net]"}}, want{"server-in-two-pools", 36, "edge02", 0}},
	{"publish-without-web-external", []edit{{25, "        # no web_external"}}, want{"publish-without-web-external", 37, "dirpool", 0}},
	{"publish-without-web-external/default", []edit{{25, "        # no web_external"}, {37, "        # publishes every pool"}}, want{"publish-without-web-external", 35, "name", 0}},
	{"publish-unknown-pool", []edit{{37, "        publishes: [pool09.contoso.net]"}}, want{"publish-unknown-pool", 37, "pool09", 0}},
	{"combine-with-edge", []edit{{39, "        combine_with_edge: lsedge9.contoso.net"}}, want{"combine-with-edge", 39, "lsedge9", 0}},
	{"duplicate-fqdn/pool", []edit{{23, "      - fqdn: pool01.contoso.net"}}, want{"duplicate-fqdn", 23, "pool01", 0}},
	{"duplicate-fqdn/server-twice", []edit{{20, "        servers: [fe01.contoso.net, fe01.contoso.net]"}}, want{"duplicate-fqdn", 20, "fe01", 1}},
	{"duplicate-fqdn/web_external", []edit{{25, "        web_external: webext.contoso.com"}}, want{"duplicate-fqdn", 25, "webext", 0}},
	{"duplicate-fqdn/server-is-pool", []edit{{24, "        servers: [pool01.contoso.net]"}}, want{"duplicate-fqdn", 24, "pool01", 0}},
	{"duplicate-fqdn/sip-domain", []edit{{5, "sip_domains: [contoso.com, contoso.com]"}}, want{"duplicate-fqdn", 5, "contoso.com", 1}},
	{"duplicate-name/site", []edit{{41, "  - name: Redmond"}}, want{"duplicate-name", 41, "Redmond", 0}},
	{"dns-name/server", []edit{{36, "        servers: [rp01]"}}, want{"dns-name", 36, "rp01", 0}},
	{"dns-name/underscore", []edit{{36, "        servers: [rp_01.contoso.com]"}}, want{"dns-name", 36, "rp_01", 0}},
	{"dns-name/ip", []edit{{36, "        servers: [192.0.2.10]"}}, want{"dns-name", 36, "192", 0}},
	{"dns-name/sip-domain", []edit{{5, "sip_domains: [contoso.com, fabrikam..com]"}}, want{"dns-name", 5, "fabrikam..com", 0}},
	{"enum/load_balancing", []edit{{29, "        load_balancing: round-robin"}}, want{"enum", 29, "round-robin", 0}},
	{"enum/external_issuer", []edit{{33, "        external_issuer: private"}}, want{"enum", 33, "private", 0}},
	{"enum/issuer", []edit{{40, "        issuer: letsencrypt"}}, want{"enum", 40, "letsencrypt", 0}},
	{"enum/certificate", []edit{{38, "        certificate: single"}}, want{"enum", 38, "single", 0}},
	{"load-balancing/none-with-two-servers", []edit{{29, "        load_balancing: none"}}, want{"load-balancing", 29, "none", 0}},
	{"key/algorithm", []edit{{14, "  algorithm: DSA"}}, want{"key", 14, "DSA", 0}},
	{"key/rsa-bits", []edit{{15, "  bits: 1024"}}, want{"key", 15, "1024", 0}},
	{"key/ecdsa-bits", []edit{{14, "  algorithm: ECDSA"}}, want{"key", 15, "2048", 0}},
	{"country", []edit{{4, "  country: USA"}}, want{"country", 4, "USA", 0}},
	{"syntax/flow", []edit{{12, "mobility: [true"}}, want{"syntax", 12, "", 0}},
	{"syntax/mapping", []edit{{12, "mobility: true: false"}}, want{"syntax", 12, "", 0}},
}

// TestAllProblemsTogether breaks the base in several independent places
// and expects every problem in one error, in file order.
func TestAllProblemsTogether(t *testing.T) {
	lines := applyEdits(readBase(t), []edit{
		{4, "  country: USA"},
		{9, "    # no meet URL for fabrikam.com"},
		{12, "mobilty: true"},
		{24, "        servers: [fe01.contoso.net]"},
		{30, "        access: '*.contoso.com'"},
		{38, "        certificate: single"},
	})
	_, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(lines, "\n")))
	ps := problemsOf(t, err)
	wantRules := []string{"country", "R83", "unknown-key", "server-in-two-pools", "R7", "enum"}
	if len(ps) != len(wantRules) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(wantRules), ps)
	}
	for i, r := range wantRules {
		if ps[i].Rule != r {
			t.Errorf("problem %d: rule %s, want %s (%v)", i, ps[i].Rule, r, ps[i])
		}
	}
	msg := err.Error()
	for _, want := range []string{"6 problem(s)", "topo.yaml:4:12: [country]", "topo.yaml:30:17: [R7]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error text lacks %q:\n%s", want, msg)
		}
	}
}

func TestDefaults(t *testing.T) {
	lines := applyEdits(readBase(t), []edit{
		{13, "# default key"}, {14, ""}, {15, ""},
		{29, "        # default load balancing"}, {33, "        # default issuer"},
		{37, "        # publishes every pool"}, {38, ""}, {39, ""}, {40, ""},
		{21, "        web_external: WebExt.Contoso.COM"},
	})
	topo, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	site := topo.Sites[0]
	checks := []struct{ name, got, want string }{
		{"key", fmt.Sprint(topo.Key), "{RSA 2048}"},
		{"load_balancing", site.EdgePools[0].LoadBalancing, "dns"},
		{"external_issuer", site.EdgePools[0].ExternalIssuer, "public"},
		{"rp issuer", site.ReverseProxies[0].Issuer, "public"},
		{"rp certificate", site.ReverseProxies[0].Certificate, "shared"},
		{"publishes", strings.Join(site.ReverseProxies[0].Publishes, ","), "pool01.contoso.net,dirpool.contoso.net"},
		{"web_internal", site.Pools[0].WebInternal, "pool01.contoso.net"},
		{"lower case", site.Pools[0].WebExternal, "webext.contoso.com"},
		{"combine", site.ReverseProxies[0].CombineWithEdge, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	single, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(applyEdits(lines, []edit{{28, "        servers: [edge01.contoso.net]"}}), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if lb := single.Sites[0].EdgePools[0].LoadBalancing; lb != "none" {
		t.Errorf("load_balancing of a single edge server = %q, want none", lb)
	}
}
