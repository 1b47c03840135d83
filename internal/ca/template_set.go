package ca

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"edgecert/internal/db"
)

// TemplateChange is what `ca template set` changes; nil fields stay.
type TemplateChange struct {
	Enroll      *[]string // groups
	EnrollUsers *[]string
	Approval    *bool
	Validity    *time.Duration
	AllowedDNS  *[]string
	// AllowIP turns IP address SANs on or off; AllowedIPs replaces the
	// allowed addresses and networks (and, when not empty and AllowIP is
	// nil, turns IP SANs on).
	AllowIP       *bool
	AllowedIPs    *[]string
	AllowWildcard *bool
	LintSources   *[]string
	// PubliclyTrusted also adds CABF_BR to the lint sources.
	PubliclyTrusted *bool
	// ACMEPreauthorize replaces the template's ACME pre-authorization
	// (a zero value turns it off).
	ACMEPreauthorize *ACMEPreauth
	// CopyFrom creates the template as a copy of another one.
	CopyFrom string
}

// SetTemplate changes (or, with CopyFrom, creates) a template in a CA
// directory, unaudited (setting up a CA, tests); administrators change
// templates with Engine.SetTemplate. The change is validated before
// anything is written.
func SetTemplate(dir, name string, ch TemplateChange) (*Template, error) {
	_, t, err := setTemplate(dir, name, ch)
	return t, err
}

// setTemplate writes the change and returns the template before (nil: it
// was created) and after.
func setTemplate(dir, name string, ch TemplateChange) (before, t *Template, err error) {
	if ch.CopyFrom != "" {
		if !validTemplateName(name) {
			return nil, nil, fmt.Errorf("invalid template name %q (letters, digits, - and _): %w", name, ErrBadRequest)
		}
		existing, err := templateNames(dir)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range existing {
			if strings.EqualFold(n, name) {
				if n == name {
					return nil, nil, fmt.Errorf("template %s already exists: %w", name, ErrConflict)
				}
				return nil, nil, fmt.Errorf("template %s would differ from the existing %s only in case: %w", name, n, ErrConflict)
			}
		}
		if t, err = GetTemplate(dir, ch.CopyFrom); err != nil {
			return nil, nil, err
		}
		t.Name, t.DisplayName = name, name
	} else {
		if t, err = GetTemplate(dir, name); err != nil {
			return nil, nil, err
		}
		old := *t
		before = &old
	}
	if ch.Enroll != nil {
		t.EnrollGroups = *ch.Enroll
	}
	if ch.EnrollUsers != nil {
		t.EnrollUsers = *ch.EnrollUsers
	}
	if ch.Approval != nil {
		t.Approval = *ch.Approval
	}
	if ch.Validity != nil {
		t.Validity = Duration(*ch.Validity)
	}
	if ch.AllowedDNS != nil {
		t.AllowedDNS = *ch.AllowedDNS
	}
	if ch.AllowedIPs != nil {
		t.AllowedIPs = *ch.AllowedIPs
		if len(t.AllowedIPs) > 0 && ch.AllowIP == nil {
			t.AllowIP = true
		}
	}
	if ch.AllowIP != nil {
		t.AllowIP = *ch.AllowIP
	}
	if ch.AllowWildcard != nil {
		t.AllowWildcardSAN = *ch.AllowWildcard
	}
	if ch.LintSources != nil {
		t.LintSources = *ch.LintSources
	}
	if ch.PubliclyTrusted != nil {
		t.PubliclyTrusted = *ch.PubliclyTrusted
		if t.PubliclyTrusted && !t.hasSource("CABF_BR") {
			t.LintSources = append(t.LintSources, "CABF_BR")
		}
	}
	if ch.ACMEPreauthorize != nil {
		t.ACMEPreauthorize = ACMEPreauth{Topology: ch.ACMEPreauthorize.Topology, Overlay: ch.ACMEPreauthorize.Overlay}
	}
	if err := saveTemplate(dir, t); err != nil {
		return nil, nil, err
	}
	return before, t, nil
}

// SetTemplate changes (or, with CopyFrom, creates) a template as p, an
// administrator, and audits the change with every field's value before
// and after. When the audit entry cannot be written, the template is put
// back as it was: no policy change goes unrecorded.
func (e *Engine) SetTemplate(ctx context.Context, p *Principal, name string, ch TemplateChange) (*Template, error) {
	if p == nil {
		return nil, fmt.Errorf("no caller: %w", ErrUnauthenticated)
	}
	if !p.Admin {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "template-set", Template: name, Result: "forbidden"})
		return nil, fmt.Errorf("only a CA administrator may change templates: %w", ErrForbidden)
	}
	before, after, err := setTemplate(e.dir, name, ch)
	if err != nil {
		return nil, err
	}
	action, detail := "template-set", templateDiff(before, after)
	if before == nil {
		action, detail = "template-create", "copy of "+ch.CopyFrom+"; "+detail
	}
	if detail == "" {
		detail = "no change"
	}
	a := db.Audit{At: e.now(), Actor: p.Name, Action: action, Template: after.Name, Result: "changed", Detail: detail}
	if err := e.db.AppendAudit(ctx, a); err != nil {
		undo := os.Remove(templatePath(e.dir, after.Name))
		if before != nil {
			undo = saveTemplate(e.dir, before)
		}
		if undo != nil {
			return nil, fmt.Errorf("the change of template %s could not be audited (%w) nor undone: %v", name, wrapDB(err), undo)
		}
		return nil, fmt.Errorf("the change of template %s could not be audited and was undone: %w", name, wrapDB(err))
	}
	e.loadTemplates(true)
	return after, nil
}

// templateDiff lists the fields that differ, "field: before -> after",
// by their names in the template file. A created template (before nil)
// lists the fields that differ from its zero value.
func templateDiff(before, after *Template) string {
	if before == nil {
		before = &Template{}
	}
	var out []string
	b, a := reflect.ValueOf(*before), reflect.ValueOf(*after)
	for i := 0; i < a.NumField(); i++ {
		f := a.Type().Field(i)
		if reflect.DeepEqual(b.Field(i).Interface(), a.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		out = append(out, fmt.Sprintf("%s: %s -> %s", name, fieldText(b.Field(i).Interface()), fieldText(a.Field(i).Interface())))
	}
	return strings.Join(out, "; ")
}

func fieldText(v any) string {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + strings.Join(x, ", ") + "]"
	case Duration:
		return FormatDuration(time.Duration(x))
	}
	return fmt.Sprint(v)
}
