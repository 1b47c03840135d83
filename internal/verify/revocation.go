package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/crypto/ocsp"
)

// revocationChecker fetches each CRL once per verification and asks OCSP
// responders when a certificate names no CRL distribution point.
type revocationChecker struct {
	client *http.Client
	mu     sync.Mutex
	crls   map[string]*crlEntry
}

type crlEntry struct {
	once sync.Once
	crl  *x509.RevocationList
	err  error
}

func newRevocationChecker(c *http.Client) *revocationChecker {
	return &revocationChecker{client: c, crls: map[string]*crlEntry{}}
}

// check returns the revocation finding of cert, whose issuer is chain[1]
// (or cert itself when self-issued).
func (r *revocationChecker) check(ctx context.Context, f Finding, cert *x509.Certificate, chain []*x509.Certificate, require bool) Finding {
	issuer := cert
	if len(chain) > 1 {
		issuer = chain[1]
	}
	unknown := func(msg string) Finding {
		fix := "make the CRL distribution point reachable from this machine, or run with the CA's HTTP publication up"
		if require {
			return f.fail(CheckRevocation, "R1", msg, fix)
		}
		return f.warn(CheckRevocation, "R1", msg, fix)
	}
	var errs []string
	for _, url := range cert.CRLDistributionPoints {
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			continue
		}
		crl, err := r.fetchCRL(ctx, url, issuer)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return f.fail(CheckRevocation, "R1",
					fmt.Sprintf("revoked on %s (CRL %s)", e.RevocationTime.UTC().Format("2006-01-02 15:04"), url),
					"request a new certificate: edgecert renew -t TOPOLOGY --workspace DIR --within 100000d --certificate "+f.Certificate)
			}
		}
		return f.pass(CheckRevocation, "R1", "not revoked (CRL "+url+")")
	}
	for _, url := range cert.OCSPServer {
		status, err := r.askOCSP(ctx, url, cert, issuer)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if status == ocsp.Revoked {
			return f.fail(CheckRevocation, "R1", "revoked (OCSP "+url+")",
				"request a new certificate: edgecert renew -t TOPOLOGY --workspace DIR --within 100000d --certificate "+f.Certificate)
		}
		if status == ocsp.Good {
			return f.pass(CheckRevocation, "R1", "not revoked (OCSP "+url+")")
		}
		errs = append(errs, "OCSP "+url+": status unknown")
	}
	if len(cert.CRLDistributionPoints) == 0 && len(cert.OCSPServer) == 0 {
		return f.warn(CheckRevocation, "R1", "the certificate has no CRL distribution point and no OCSP responder",
			"every server certificate must carry a CDP (R1): ask the CA to add one")
	}
	return unknown("revocation status unknown: " + strings.Join(errs, "; "))
}

func (r *revocationChecker) fetchCRL(ctx context.Context, url string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	r.mu.Lock()
	e := r.crls[url+"|"+string(issuer.Raw)]
	if e == nil {
		e = &crlEntry{}
		r.crls[url+"|"+string(issuer.Raw)] = e
	}
	r.mu.Unlock()
	e.once.Do(func() {
		body, err := r.get(ctx, url)
		if err != nil {
			e.err = err
			return
		}
		crl, err := x509.ParseRevocationList(body)
		if err != nil {
			e.err = fmt.Errorf("CRL %s: %w", url, err)
			return
		}
		if err := crl.CheckSignatureFrom(issuer); err != nil {
			e.err = fmt.Errorf("CRL %s is not signed by %s: %w", url, issuer.Subject.CommonName, err)
			return
		}
		e.crl = crl
	})
	return e.crl, e.err
}

func (r *revocationChecker) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %w", url, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("CRL %s unreachable: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CRL %s: HTTP %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

func (r *revocationChecker) askOCSP(ctx context.Context, url string, cert, issuer *x509.Certificate) (int, error) {
	reqDER, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return 0, fmt.Errorf("OCSP %s: %w", url, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqDER))
	if err != nil {
		return 0, fmt.Errorf("OCSP %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("OCSP %s unreachable: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("OCSP %s: %w", url, err)
	}
	res, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return 0, fmt.Errorf("OCSP %s: %w", url, err)
	}
	return res.Status, nil
}
