package plan

import (
	"fmt"
	"io"
	"strings"
)

// RuleText is one rule id the plan and verification cite, with its text.
type RuleText struct {
	ID      string `json:"id"`
	Section string `json:"section"`
	Text    string `json:"text"`
	Sources string `json:"sources,omitempty"` // LS:/PS: documents
}

// Summary is the rule's first line, for lists.
func (r RuleText) Summary() string {
	s, _, _ := strings.Cut(r.Text, "\n")
	return s
}

// Rules returns every rule, in the documents' order.
func Rules() []RuleText { return append([]RuleText(nil), ruleTable...) }

// RuleByID returns the rule with id (any case: r33 is R33).
func RuleByID(id string) (RuleText, bool) {
	for _, r := range ruleTable {
		if strings.EqualFold(r.ID, id) {
			return r, true
		}
	}
	return RuleText{}, false
}

// WriteRulesMarkdown writes docs/rules.md: every rule under its section.
func WriteRulesMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# The certificate rules edgecert cites\n\n")
	b.WriteString("Generated from the rule table in `internal/plan/ruletable.go` (`go test ./internal/plan -run TestRulesDoc -update-rules`); do not edit by hand. `edgecert rules [ID]` shows the same.\n\n")
	b.WriteString("`R` rules come from the Lync Server 2013 documents (`LS:` = `MicrosoftDocs/OfficeDocs-SkypeForBusiness`, `Lync/LyncServer/lync-server-2013-<name>.md`; `PS:` = `MicrosoftDocs/office-docs-powershell`, `skype/skype-ps/skype/<Cmdlet>.md`), `L` notes where they disagree, and `M` says how edgecert resolves each disagreement.\n")
	section := ""
	for _, r := range ruleTable {
		if r.Section != section {
			section = r.Section
			fmt.Fprintf(&b, "\n## %s\n\n", section)
		}
		text := strings.ReplaceAll(r.Text, "\n", "\n  ")
		fmt.Fprintf(&b, "- **%s** %s", r.ID, text)
		if r.Sources != "" {
			fmt.Fprintf(&b, " — %s", r.Sources)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
