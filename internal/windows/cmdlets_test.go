package windows

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// paramSet is one documented parameter set of a cmdlet: the parameters it
// requires and those it allows besides.
type paramSet struct {
	name      string
	mandatory []string
	optional  []string
}

// commonParameters are PowerShell's common parameters of Windows
// PowerShell 4.0 (InformationAction and InformationVariable came in 5.0).
var commonParameters = []string{"Verbose", "Debug", "ErrorAction", "WarningAction", "ErrorVariable", "WarningVariable", "OutVariable", "OutBuffer", "PipelineVariable"}

// documentedParameterSets are the parameter sets of the cmdlets the scripts
// run, as Microsoft documents them: Set-CsCertificate and Get-CsCertificate
// in the Lync Server 2013 cmdlet reference (Thumbprint, Reference and Path
// sets; -Type is mandatory in every Lync Server 2013 set), Import-Certificate
// and Import-PfxCertificate in the PKI module reference of Windows Server
// 2012 (the module Windows PowerShell 4.0 and 5.1 carry).
var documentedParameterSets = map[string][]paramSet{
	"Set-CsCertificate": {
		{"Thumbprint", []string{"Thumbprint", "Type"}, []string{"Identity", "Confirm", "EffectiveDate", "Force", "Report", "Roll", "WhatIf"}},
		{"Reference", []string{"Reference", "Type"}, []string{"Identity", "Confirm", "EffectiveDate", "Force", "Report", "Roll", "WhatIf"}},
		{"Path", []string{"Identity", "Path", "Type"}, []string{"Password", "Confirm", "EffectiveDate", "Force", "Report", "Roll", "WhatIf"}},
	},
	"Get-CsCertificate": {
		{"Identity", nil, []string{"Identity", "Type", "Report"}},
	},
	"Import-Certificate": {
		{"(all)", []string{"FilePath"}, []string{"CertStoreLocation", "Confirm", "WhatIf"}},
	},
	"Import-PfxCertificate": {
		{"(all)", []string{"FilePath"}, []string{"CertStoreLocation", "Exportable", "Password", "Confirm", "WhatIf"}},
	},
}

// cmdletCall is one call of a cmdlet in a script: its parameter names.
type cmdletCall struct {
	cmdlet string
	params []string
	line   string
}

// cmdletCalls finds every call of the cmdlets of documentedParameterSets:
// the cmdlet name as a command (at the start of a statement, after '(' or
// '{' or '|'), then its arguments up to the end of the pipeline element.
func cmdletCalls(script string) []cmdletCall {
	var out []cmdletCall
	for _, line := range strings.Split(strings.ReplaceAll(script, "\r\n", "\n"), "\n") {
		for cmdlet := range documentedParameterSets {
			for rest := line; ; {
				i := strings.Index(rest, cmdlet)
				if i < 0 {
					break
				}
				before := strings.TrimRight(rest[:i], " ")
				after := rest[i+len(cmdlet):]
				rest = after
				if before != "" && !strings.HasSuffix(before, "(") && !strings.HasSuffix(before, "{") && !strings.HasSuffix(before, "|") && !strings.HasSuffix(before, "@(") {
					continue // a mention in a string, not a call
				}
				if strings.HasPrefix(strings.TrimSpace(before), "#") {
					continue
				}
				out = append(out, cmdletCall{cmdlet: cmdlet, params: paramNames(after), line: strings.TrimSpace(line)})
			}
		}
	}
	return out
}

// paramNames lists the -Name tokens of one command's arguments, outside
// quotes and parentheses, up to '|', ')' or '}' at depth 0.
func paramNames(args string) []string {
	var names []string
	depth := 0
	var quote rune
	r := []rune(args)
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '{' || c == '[':
			depth++
		case (c == ')' || c == '}' || c == ']') && depth > 0:
			depth--
		case depth == 0 && (c == '|' || c == ')' || c == '}' || c == ';'):
			return names
		case depth == 0 && c == '-' && (i == 0 || r[i-1] == ' ') && i+1 < len(r) && unicode.IsLetter(r[i+1]):
			j := i + 1
			for j < len(r) && (unicode.IsLetter(r[j]) || unicode.IsDigit(r[j])) {
				j++
			}
			names = append(names, string(r[i+1:j]))
			i = j - 1
		}
	}
	return names
}

// matches reports whether params fit set: each allowed, the mandatory ones
// all given, none twice.
func (set paramSet) matches(params []string) bool {
	for i, p := range params {
		if slices.Contains(params[:i], p) {
			return false
		}
		if !slices.Contains(set.mandatory, p) && !slices.Contains(set.optional, p) && !slices.Contains(commonParameters, p) {
			return false
		}
	}
	for _, m := range set.mandatory {
		if !slices.Contains(params, m) {
			return false
		}
	}
	return true
}

// TestEveryCmdletLineFitsADocumentedParameterSet checks every call of the
// Lync and PKI cmdlets in every golden script against the documented
// parameter sets, and that each cmdlet is checked at least once.
func TestEveryCmdletLineFitsADocumentedParameterSet(t *testing.T) {
	seen := map[string]int{}
	for name, in := range goldenCases(t) {
		for _, call := range cmdletCalls(render(t, in)) {
			seen[call.cmdlet]++
			if !slices.ContainsFunc(documentedParameterSets[call.cmdlet], func(s paramSet) bool { return s.matches(call.params) }) {
				t.Errorf("%s: %s with %v fits no documented parameter set: %s", name, call.cmdlet, call.params, call.line)
			}
		}
	}
	for cmdlet := range documentedParameterSets {
		if seen[cmdlet] == 0 {
			t.Errorf("no call of %s was checked", cmdlet)
		}
	}
}

// TestParameterSetCheckCatchesMistakes: the checker itself refuses calls
// that no parameter set allows.
func TestParameterSetCheckCatchesMistakes(t *testing.T) {
	bad := []string{
		"Set-CsCertificate -Thumbprint 'AB' -Confirm:$false",                     // no -Type
		"Set-CsCertificate -Type Internal -Confirm:$false",                       // no certificate
		"Set-CsCertificate -Type Internal -Thumbprint 'AB' -Path x",              // two sets
		"Import-PfxCertificate -FilePath $p -CertStoreLocation x -NoExport",      // no such parameter
		"Import-Certificate -CertStoreLocation 'Cert:\\LocalMachine\\Root'",      // no -FilePath
		"Import-PfxCertificate -FilePath $p -Password $a -Password $b",           // twice
		"Set-CsCertificate -Type Internal -Thumbprint 'AB' -InformationAction 0", // 5.0 only
	}
	for _, line := range bad {
		calls := cmdletCalls(line)
		if len(calls) != 1 {
			t.Fatalf("%q: %d calls found", line, len(calls))
		}
		c := calls[0]
		if slices.ContainsFunc(documentedParameterSets[c.cmdlet], func(s paramSet) bool { return s.matches(c.params) }) {
			t.Errorf("%q (%v) passes the check", line, c.params)
		}
	}
}

// TestWindowsPowerShell4Syntax: no construct of a later version than
// Windows PowerShell 4.0 appears in any script.
func TestWindowsPowerShell4Syntax(t *testing.T) {
	later := []struct{ text, why string }{
		{"??", "null-coalescing (7.0)"},
		{"?.", "null-conditional member access (7.1)"},
		{"&&", "pipeline chain (7.0)"},
		{"||", "pipeline chain (7.0)"},
		{"::new(", "::new() (5.0)"},
		{"class ", "classes (5.0)"},
		{"enum ", "enums (5.0)"},
		{"using namespace", "using (5.0)"},
		{"using module", "using (5.0)"},
		{"-Parallel", "ForEach-Object -Parallel (7.0)"},
		{"$PSStyle", "$PSStyle (7.2)"},
		{"-AsHashtable", "ConvertFrom-Json -AsHashtable (6.0)"},
		{"-AsByteStream", "-AsByteStream (6.0)"},
		{"utf8NoBOM", "-Encoding utf8NoBOM (6.0)"},
		{"-NoNewline", "-NoNewline (5.0)"},
		{"New-TemporaryFile", "New-TemporaryFile (5.0)"},
		{"-AdditionalChildPath", "Join-Path -AdditionalChildPath (6.0)"},
		{"Get-FileHash -InputStream", "Get-FileHash -InputStream (5.0)"},
		{"-InformationAction", "InformationAction (5.0)"},
		{"Clean {", "clean block (7.3)"},
		{".Where(", "collection methods: avoided"},
		{".ForEach(", "collection methods: avoided"},
		{"#Requires -Version 5", "requires a later version"},
		{"#Requires -Version 7", "requires a later version"},
		{"#Requires -PSEdition", "PSEdition (5.1)"},
	}
	for name, in := range goldenCases(t) {
		s := render(t, in)
		for _, l := range later {
			if strings.Contains(s, l.text) {
				t.Errorf("%s contains %q: %s", name, l.text, l.why)
			}
		}
		for i, line := range strings.Split(s, "\r\n") {
			if strings.Contains(line, " ? ") && strings.Contains(line, " : ") {
				t.Errorf("%s line %d looks like a ternary (7.0): %s", name, i+1, line)
			}
		}
	}
}
