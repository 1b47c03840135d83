package apply

import (
	"fmt"
	"strings"

	"edgecert/internal/acme"
	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// Mark is the state of one step on one server.
type Mark string

// Marks.
const (
	MarkDone    Mark = "done"
	MarkMissing Mark = "missing"
	MarkNA      Mark = "n/a"
)

// StatusRow is the progress of one certificate on one server (R49).
type StatusRow struct {
	Site        string `json:"site"`
	Certificate string `json:"certificate"`
	Kind        string `json:"kind"`
	Server      string `json:"server"`
	Role        string `json:"role"` // "request" (request_on) or "member"
	Chain       Mark   `json:"chain_imported"`
	Requested   Mark   `json:"requested"`
	Issued      Mark   `json:"issued"`
	Imported    Mark   `json:"imported"`
	Transferred Mark   `json:"member_imported"`
	Assigned    Mark   `json:"assigned"`
	Verified    Mark   `json:"verified"`
	Waiting     string `json:"waiting,omitempty"`
	Thumbprint  string `json:"thumbprint,omitempty"`
	// ACME is the ACME step of a public certificate on its request_on row.
	ACME *ACMEStep `json:"acme,omitempty"`
}

// ACMEStep is where the order of a public certificate is (order pending,
// challenge waiting, valid, or failed when a run stopped without the CA's
// final word, such as a lost connection), with the reason when it failed
// and what was published for it to check. An order that failed for good
// leaves no step (acme.ErrOrderFailed): the run's error said why.
type ACMEStep struct {
	Step        string `json:"step"`
	ProblemType string `json:"problem_type,omitempty"`
	Problem     string `json:"problem,omitempty"`
	Checked     string `json:"checked,omitempty"`
}

// Done reports whether every step of the row is done.
func (r StatusRow) Done() bool {
	for _, m := range []Mark{r.Chain, r.Requested, r.Issued, r.Imported, r.Transferred, r.Assigned, r.Verified} {
		if m == MarkMissing {
			return false
		}
	}
	return true
}

// StatusReport is the state of a workspace against a plan.
type StatusReport struct {
	Rows     []StatusRow `json:"rows"`
	Complete bool        `json:"complete"`
	// RunAgain says, per unfinished certificate, what is missing.
	RunAgain []string `json:"run_again,omitempty"`
}

// Status reads the stores and the journal, changing nothing.
func Status(p *plan.Plan, w *Workspace) (*StatusReport, error) {
	j, err := openJournal(w.path("state.json"), nil)
	if err != nil {
		return nil, err
	}
	rep := &StatusReport{Complete: true}
	acmeDir := w.ACMEDir()
	for i := range p.Certificates {
		c := &p.Certificates[i]
		rows, err := statusOf(c, w, j)
		if err != nil {
			return nil, err
		}
		if c.Issuer == issuerPublic {
			if st := acme.ReadState(acmeDir, c.ID); st != nil {
				for i := range rows {
					if rows[i].Role == "request" {
						rows[i].ACME = &ACMEStep{Step: st.Step, ProblemType: st.ProblemType, Problem: st.Problem, Checked: st.Checked}
					}
				}
			}
		}
		var missing []string
		for _, row := range rows {
			if !row.Done() {
				missing = append(missing, row.Server+": "+nextStep(row))
			}
		}
		if len(missing) > 0 {
			rep.Complete = false
			rep.RunAgain = append(rep.RunAgain, fmt.Sprintf("%s — %s", c.ID, strings.Join(missing, "; ")))
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	return rep, nil
}

func nextStep(r StatusRow) string {
	switch {
	case r.Waiting != "":
		return r.Waiting
	case r.Chain == MarkMissing:
		return "import the CA chain"
	case r.Requested == MarkMissing:
		return "create the request"
	case r.Issued == MarkMissing:
		return "get it issued"
	case r.Imported == MarkMissing:
		return "import the certificate"
	case r.Transferred == MarkMissing:
		return "import the .pfx from the first server"
	case r.Assigned == MarkMissing:
		return "assign the usages"
	}
	return "verify"
}

func mark(ok bool) Mark {
	if ok {
		return MarkDone
	}
	return MarkMissing
}

// statusOf returns one row per local server of c.
func statusOf(c *plan.Certificate, w *Workspace, j *journal) ([]StatusRow, error) {
	cs := j.cert(c.ID, c.FriendlyName)
	thumb, requested := cs.Thumbprint, false
	if w.Local(c.RequestOn) {
		thumb = ""
		if st, ok, err := w.ExistingStore(c.RequestOn); err != nil {
			return nil, err
		} else if ok {
			e, err := findMy(st, cs.FriendlyName)
			if err != nil {
				return nil, err
			}
			pend, err := findPending(st, cs.FriendlyName)
			if err != nil {
				return nil, err
			}
			if e != nil {
				thumb = e.Thumbprint
			}
			requested = e != nil || pend != nil
		}
	}
	var rows []StatusRow
	for _, srv := range c.Servers {
		if !w.Local(srv) {
			continue
		}
		row := StatusRow{Site: c.Site, Certificate: c.ID, Kind: c.Kind, Server: srv, Role: "member",
			Requested: MarkNA, Issued: MarkNA, Imported: MarkNA, Transferred: MarkNA, Thumbprint: thumb,
			Chain: MarkMissing, Assigned: MarkMissing, Verified: mark(thumb != "" && cs.Verified == thumb)}
		if cs.Waiting != "" && thumb == "" {
			row.Waiting = cs.Waiting
		}
		st, ok, err := w.ExistingStore(srv)
		if err != nil {
			return nil, err
		}
		var have bool
		if ok {
			if roots, err := st.List(store.Root); err == nil && len(roots) > 0 {
				row.Chain = MarkDone
			}
			if thumb != "" {
				if have, err = hasMy(st, thumb); err != nil {
					return nil, err
				}
			}
			row.Assigned = mark(thumb != "" && assignedAll(st, c.Usages, thumb))
		}
		if strings.EqualFold(srv, c.RequestOn) {
			row.Role = "request"
			row.Requested, row.Issued, row.Imported = mark(requested), mark(thumb != ""), mark(have)
		} else {
			row.Transferred = mark(have)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// assignedAll reports whether every usage is bound (or staged) to thumb.
func assignedAll(st *store.Store, usages []string, thumb string) bool {
	as, err := st.Assignments()
	if err != nil {
		return false
	}
	cur := map[string]store.Assignment{}
	for _, a := range as {
		cur[a.Usage] = a
	}
	for _, u := range usages {
		a := cur[u]
		if !strings.EqualFold(a.Thumbprint, thumb) && !strings.EqualFold(a.Staged, thumb) {
			return false
		}
	}
	return true
}

// Current returns the thumbprint of c's current certificate in server's
// store (the generation the journal names), or "" when there is none.
func Current(w *Workspace, c *plan.Certificate, server string) (string, error) {
	j, err := openJournal(w.path("state.json"), nil)
	if err != nil {
		return "", err
	}
	cs := j.cert(c.ID, c.FriendlyName)
	st, ok, err := w.ExistingStore(server)
	if err != nil || !ok {
		return "", err
	}
	if strings.EqualFold(server, c.RequestOn) || cs.Thumbprint == "" {
		e, err := findMy(st, cs.FriendlyName)
		if err != nil || e == nil {
			return "", err
		}
		return e.Thumbprint, nil
	}
	if has, err := hasMy(st, cs.Thumbprint); err != nil || !has {
		return "", err
	}
	return cs.Thumbprint, nil
}
