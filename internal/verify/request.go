package verify

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"edgecert/internal/plan"
)

// Request compares a PKCS#10 request with the plan's certificate c (a
// request made elsewhere, such as by Request-CsCertificate on the server):
// the subject name, the names as a set, the key algorithm and size, and
// the signature. It returns one line per difference; none means the
// request asks for what the plan says. Whether the key is exportable is
// not in a request: verify --snapshot checks it on the server.
func Request(c *plan.Certificate, req *x509.CertificateRequest) []string {
	var diffs []string
	if err := req.CheckSignature(); err != nil {
		diffs = append(diffs, fmt.Sprintf("the request's signature does not verify: %v", err))
	}
	if cn := req.Subject.CommonName; !strings.EqualFold(cn, c.Subject.CommonName) {
		diffs = append(diffs, fmt.Sprintf("subject name is %q, the plan says %q", cn, c.Subject.CommonName))
	}
	have, want := map[string]bool{}, map[string]bool{}
	for _, n := range req.DNSNames {
		have[strings.ToLower(n)] = true
	}
	for _, n := range c.SANs {
		want[strings.ToLower(n)] = true
	}
	var missing, extra []string
	for n := range want {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	for n := range have {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		diffs = append(diffs, fmt.Sprintf("names the plan has and the request lacks: %s", strings.Join(missing, ", ")))
	}
	if len(extra) > 0 {
		diffs = append(diffs, fmt.Sprintf("names the request has and the plan does not: %s", strings.Join(extra, ", ")))
	}
	if len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
		diffs = append(diffs, "the request asks for IP, e-mail or URI names, which the plan never has")
	}
	alg, bits := keyTypeOf(req.PublicKey)
	if alg == "" {
		alg = req.PublicKeyAlgorithm.String()
	}
	if c.Key.Algorithm != "" && (!strings.EqualFold(alg, c.Key.Algorithm) || (c.Key.Bits != 0 && bits != c.Key.Bits)) {
		diffs = append(diffs, fmt.Sprintf("key is %s %d, the plan says %s %d", alg, bits, c.Key.Algorithm, c.Key.Bits))
	}
	return diffs
}
