package ca

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// lintCache keeps one filtered zlint registry per source set.
type lintCache struct {
	mu   sync.Mutex
	regs map[string]lint.Registry
}

func (c *lintCache) registry(sources []string) (lint.Registry, error) {
	key := strings.Join(sources, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.regs[key]; ok {
		return r, nil
	}
	var list lint.SourceList
	for _, s := range sources {
		list = append(list, lint.LintSource(s))
	}
	r, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: list})
	if err != nil {
		return nil, err
	}
	if c.regs == nil {
		c.regs = map[string]lint.Registry{}
	}
	c.regs[key] = r
	return r, nil
}

// lintCertificate runs the template's lints on a DER certificate and returns
// an error (wrapping ErrBadRequest) listing every error- or fatal-level finding.
func (e *Engine) lintCertificate(t *Template, der []byte) error {
	reg, err := e.lint.registry(t.LintSources)
	if err != nil {
		return err
	}
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("lint: cannot parse the certificate: %v: %w", err, ErrBadRequest)
	}
	rs := zlint.LintCertificateEx(zc, reg)
	if !rs.ErrorsPresent && !rs.FatalsPresent {
		return nil
	}
	var bad []string
	for name, r := range rs.Results {
		if r.Status == lint.Error || r.Status == lint.Fatal {
			s := name
			if r.Details != "" {
				s += " (" + r.Details + ")"
			}
			bad = append(bad, s)
		}
	}
	sort.Strings(bad)
	return fmt.Errorf("template %s: the certificate fails lint: %s: %w", t.Name, strings.Join(bad, "; "), ErrBadRequest)
}
