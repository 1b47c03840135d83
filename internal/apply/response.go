package apply

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
	"edgecert/internal/plan"
)

// ErrNoMatch is wrapped when a public CA's response matches no pending request.
var ErrNoMatch = errors.New("the response matches no pending request")

// Response is a file a public CA returned: a .cer or a .p7b.
type Response struct {
	Name string // for messages
	Data []byte
}

// ImportResponses files the certificates a public CA returned: each
// response's end-entity certificate is matched, by public key, to the
// pending request of a public-issuer certificate of the plan and imported
// with its key, with the CA certificates of the file. It returns the plan ids
// that were matched. Run then carries on with those certificates.
func ImportResponses(ctx context.Context, p *plan.Plan, w *Workspace, files []Response, opts Options) ([]string, error) {
	r, err := newRunner(p, w, opts)
	if err != nil {
		return nil, err
	}
	defer r.release()
	var matched []string
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return matched, err
		}
		id, err := r.importResponse(f)
		if err != nil {
			return matched, err
		}
		matched = append(matched, id)
	}
	return matched, nil
}

// parseResponse returns the certificates of a .cer (PEM or DER, one or
// more) or .p7b file.
func parseResponse(f Response) (leaf *x509.Certificate, cas []*x509.Certificate, err error) {
	var certs []*x509.Certificate
	switch certfmt.Detect(f.Data) {
	case certfmt.FormatPKCS7:
		certs, err = certfmt.DecodePKCS7(f.Data)
	case certfmt.FormatCertificate:
		certs, err = certfmt.ParseCertificates(f.Data)
	default:
		return nil, nil, fmt.Errorf("apply: %w: %s is not a certificate (.cer) or a PKCS#7 chain (.p7b)", ErrInvalidInput, f.Name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w: %s: %v", ErrInvalidInput, f.Name, err)
	}
	for _, c := range certs {
		if c.IsCA {
			cas = append(cas, c)
		} else if leaf == nil {
			leaf = c
		} else {
			return nil, nil, fmt.Errorf("apply: %w: %s holds more than one end-entity certificate", ErrInvalidInput, f.Name)
		}
	}
	if leaf == nil {
		return nil, nil, fmt.Errorf("apply: %w: %s holds no end-entity certificate", ErrInvalidInput, f.Name)
	}
	return leaf, cas, nil
}

func (r *runner) importResponse(f Response) (string, error) {
	leaf, cas, err := parseResponse(f)
	if err != nil {
		return "", err
	}
	for i := range r.p.Certificates {
		c := &r.p.Certificates[i]
		if c.Issuer != issuerPublic || !r.w.Local(c.RequestOn) {
			continue
		}
		cs := r.j.cert(c.ID, c.FriendlyName)
		st, ok, err := r.w.ExistingStore(c.RequestOn)
		if err != nil || !ok {
			if err != nil {
				return "", err
			}
			continue
		}
		unlock := r.w.lock(c.RequestOn)
		pend, err := findPending(st, cs.FriendlyName)
		if err != nil || pend == nil {
			unlock()
			if err != nil {
				return "", err
			}
			continue
		}
		req, err := csr.Decode(pend.DER)
		if err != nil || !certfmt.PublicKeysEqual(req.PublicKey, leaf.PublicKey) {
			unlock()
			continue
		}
		if missing := missingNames(c.SANs, leaf.DNSNames); len(missing) > 0 {
			unlock()
			return "", fmt.Errorf("apply: %w: %s (for %s) lacks the planned names %s: ask the public CA to issue the request as sent",
				ErrInvalidInput, f.Name, c.ID, strings.Join(missing, ", "))
		}
		saved := r.w.path("issued", fmt.Sprintf("%s-g%d.pem", safeName(c.ID), cs.Generation))
		if err := atomicfile.Write(saved, certfmt.EncodeCertificatePEM(append([]*x509.Certificate{leaf}, cas...)...), 0o644); err != nil {
			unlock()
			return "", fmt.Errorf("apply: save %s: %w", f.Name, err)
		}
		thumb, err := importIssued(st, c, cs.FriendlyName, leaf, cas)
		unlock()
		if err != nil {
			return "", err
		}
		r.event(StepImport, c.ID, c.RequestOn, EventDone, "public CA response %s imported (%s)", f.Name, thumb)
		// The outbox holds only what still waits for the public CA.
		base := r.w.path("outbox", safeName(c.ID))
		os.Remove(base + ".csr")
		os.Remove(base + ".txt")
		r.j.set(c.ID, c.FriendlyName, func(s *CertState) { s.Waiting = "" })
		return c.ID, r.j.save()
	}
	return "", fmt.Errorf("apply: %w: %w: %s (subject %s): its public key belongs to no request waiting for the public CA in this workspace",
		ErrInvalidInput, ErrNoMatch, f.Name, leaf.Subject.CommonName)
}

// missingNames returns the planned names absent from have (case-insensitive).
func missingNames(planned, have []string) []string {
	set := map[string]bool{}
	for _, h := range have {
		set[strings.ToLower(h)] = true
	}
	var out []string
	for _, n := range planned {
		if !set[strings.ToLower(n)] {
			out = append(out, n)
		}
	}
	return out
}
