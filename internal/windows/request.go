package windows

import (
	"fmt"
	"strings"

	"edgecert/internal/plan"
)

// RequestScriptName and CompleteScriptName are the scripts of the
// delayed-request path: the Deployment Wizard's "prepare the request now,
// send it later", with the keys made on the server.
const (
	RequestScriptName  = "Request-EdgecertCertificates.ps1"
	CompleteScriptName = "Complete-EdgecertRequests.ps1"
)

// Requests is what one server requests itself: one Request-CsCertificate
// -New … -Output FILE per planned certificate that the plan has it request.
type Requests struct {
	Server string
	Items  []PlannedRequest
	// Skipped names the planned certificates of the server that
	// Request-CsCertificate cannot make (a reverse proxy's), with why.
	Skipped []string
}

// PlannedRequest is one planned request and what to do with its answer.
type PlannedRequest struct {
	ID           string
	Output       string // request file written on the server
	Answer       string // answer file expected back (.p7b or .cer)
	Pfx          string // .pfx written for the other members when shared
	Types        []string
	DomainName   []string
	FriendlyName string
	KeyAlg       string // RSA, ECDH_P256, ECDH_P384
	KeySize      int    // RSA only
	Exportable   bool
	ClientEKU    bool
	Template     string
	Subject      plan.Subject
	Members      []string // the other servers that share it
	Assign       []SetCall
}

// PlanRequests builds the requests server makes for the plan.
func PlanRequests(p *plan.Plan, server string) (*Requests, error) {
	r := &Requests{Server: strings.ToLower(server)}
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !strings.EqualFold(c.RequestOn, server) {
			continue
		}
		var types []string
		for _, u := range c.Usages {
			if lyncUsage(c, u) {
				types = append(types, u)
			}
		}
		if len(types) == 0 {
			r.Skipped = append(r.Skipped, fmt.Sprintf("%s: a reverse proxy is not a Lync server; make its request with edgecert request new --from-plan %s", c.ID, c.ID))
			continue
		}
		base := fileName(c.ID)
		pr := PlannedRequest{ID: c.ID, Output: base + ".req", Answer: base + ".p7b", Types: types,
			DomainName: c.SANs, FriendlyName: c.FriendlyName, Exportable: c.Key.Exportable,
			ClientEKU: containsStr(c.EKU, "clientAuth"), Template: c.Template, Subject: c.Subject}
		switch {
		case strings.EqualFold(c.Key.Algorithm, "ECDSA") && c.Key.Bits == 384:
			pr.KeyAlg = "ECDH_P384"
		case strings.EqualFold(c.Key.Algorithm, "ECDSA"):
			pr.KeyAlg = "ECDH_P256"
		default:
			pr.KeyAlg, pr.KeySize = "RSA", c.Key.Bits
		}
		for _, s := range c.Servers {
			if !strings.EqualFold(s, server) {
				pr.Members = append(pr.Members, strings.ToLower(s))
			}
		}
		if len(pr.Members) > 0 {
			pr.Pfx = base + ".pfx"
		}
		// What is assigned once the answer is in: the usages as apply
		// assigns them, OAuth globally on this (the first) server.
		for _, t := range types {
			call := SetCall{Types: []string{t}, Global: t == plan.UsageOAuthTokenIssuer}
			if !call.Global && len(pr.Assign) > 0 && !pr.Assign[0].Global {
				pr.Assign[0].Types = append(pr.Assign[0].Types, t)
				continue
			}
			pr.Assign = append(pr.Assign, call)
		}
		r.Items = append(r.Items, pr)
	}
	if len(r.Items) == 0 && len(r.Skipped) == 0 {
		return nil, fmt.Errorf("the plan has %s request no certificate (see the request_on of edgecert plan -o json): %w", server, ErrBundle)
	}
	return r, r.validate()
}

func (r *Requests) validate() error {
	texts := []string{r.Server}
	for _, it := range r.Items {
		texts = append(texts, it.ID, it.FriendlyName, it.Template, it.Subject.Organization, it.Subject.OrganizationalUnit,
			it.Subject.Locality, it.Subject.State, it.Subject.Country)
		texts = append(texts, it.DomainName...)
	}
	for _, t := range texts {
		for _, c := range t {
			if c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) {
				return fmt.Errorf("%q holds a control character: %w", t, ErrBundle)
			}
		}
	}
	return nil
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// RequestScript returns Request-EdgecertCertificates.ps1 for r.
func RequestScript(r *Requests) ([]byte, error) { return render("request.ps1.tmpl", r) }

// CompleteScript returns Complete-EdgecertRequests.ps1 for r.
func CompleteScript(r *Requests) ([]byte, error) { return render("complete.ps1.tmpl", r) }
