package ca

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
	"github.com/zmap/zlint/v3/util"
)

// lintCache keeps, per source set, the certificate lints of a filtered zlint
// registry, built once. zlint's own LintCertificateEx sorts the registry's
// names, builds a result map, and instantiates and configures (by
// reflection) every lint on every certificate; here each lint is
// instantiated and configured once per set, and the instances are pooled
// so that no two goroutines share one.
type lintCache struct {
	mu   sync.Mutex
	sets map[string]*lintSet
}

// lintSet is the lints of one source set.
type lintSet struct {
	lints []*lint.CertificateLint
	pool  sync.Pool // of []lint.LintInterface, one instance per lint, configured
	err   error     // configuration failure, reported on use
}

func (c *lintCache) set(sources []string) (*lintSet, error) {
	key := strings.Join(sources, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sets[key]; ok {
		return s, nil
	}
	var list lint.SourceList
	for _, s := range sources {
		list = append(list, lint.LintSource(s))
	}
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: list})
	if err != nil {
		return nil, err
	}
	s := &lintSet{lints: reg.CertificateLints().Lints()}
	conf := reg.GetConfiguration()
	s.pool.New = func() any {
		inst := make([]lint.LintInterface, len(s.lints))
		for i, l := range s.lints {
			inst[i] = l.Lint()
			if err := conf.MaybeConfigure(inst[i], l.Name); err != nil {
				return err
			}
		}
		return inst
	}
	if v, ok := s.pool.Get().(error); ok { // configure once now: fail early
		return nil, v
	} else {
		s.pool.Put(v)
	}
	if c.sets == nil {
		c.sets = map[string]*lintSet{}
	}
	c.sets[key] = s
	return s, nil
}

// run lints cert and returns the names (with details) of error- and
// fatal-level findings, as zlint's CertificateLint.Execute decides them.
func (s *lintSet) run(cert *zx509.Certificate) (bad []string, err error) {
	v := s.pool.Get()
	inst, ok := v.([]lint.LintInterface)
	if !ok {
		return nil, fmt.Errorf("lint: %v", v)
	}
	serverAuth := util.IsServerAuthCert(cert)
	for i, l := range s.lints {
		if !l.OverrideFrameworkFilter {
			switch {
			case l.Source == lint.CABFBaselineRequirements && !serverAuth,
				l.Source == lint.CABFSMIMEBaselineRequirements && !util.IsEmailProtectionCert(cert),
				l.Source == lint.CABFCSBaselineRequirements && !util.IsCodeSigning(cert.PolicyIdentifiers):
				continue
			}
		}
		if r := execLint(l, inst[i], cert); r != nil && (r.Status == lint.Error || r.Status == lint.Fatal) {
			name := l.Name
			if r.Details != "" {
				name += " (" + r.Details + ")"
			}
			bad = append(bad, name)
		}
	}
	s.pool.Put(inst)
	return bad, nil
}

// execLint runs one lint; a panicking lint is a fatal finding, as in zlint.
func execLint(l *lint.CertificateLint, li lint.LintInterface, cert *zx509.Certificate) (r *lint.LintResult) {
	defer func() {
		if p := recover(); p != nil {
			r = &lint.LintResult{Status: lint.Fatal, Details: fmt.Sprintf("'%s' panicked: %v", l.Name, p)}
		}
	}()
	if !li.CheckApplies(cert) || !l.CheckEffective(cert) {
		return nil
	}
	return li.Execute(cert)
}

// lintCertificate runs the template's lints on a DER certificate and returns
// an error (wrapping ErrBadRequest) listing every error- or fatal-level finding.
func (e *Engine) lintCertificate(t *Template, der []byte) error {
	set, err := e.lint.set(t.LintSources)
	if err != nil {
		return err
	}
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("lint: cannot parse the certificate: %v: %w", err, ErrBadRequest)
	}
	bad, err := set.run(zc)
	if err != nil {
		return err
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("template %s: the certificate fails lint: %s: %w", t.Name, strings.Join(bad, "; "), ErrBadRequest)
}
