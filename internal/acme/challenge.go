package acme

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/providers/dns/dnsupdate"
	"github.com/miekg/dns"

	"edgecert/internal/atomicfile"
	"edgecert/internal/topology"
)

// record is one challenge response published for the CA to check. It is
// written to the journal before it is published, so that a run killed
// while it is out there removes it the next time.
type record struct {
	Kind    string `json:"kind"` // "rfc2136", "hook", "http"
	Name    string `json:"name"` // the identifier
	FQDN    string `json:"fqdn,omitempty"`
	Value   string `json:"value,omitempty"`
	Token   string `json:"token,omitempty"`
	KeyAuth string `json:"key_auth"`
	// What publishes it (copied, so that a changed topology still cleans
	// up what an earlier run published).
	RFC2136 *topology.RFC2136 `json:"rfc2136,omitempty"`
	Hook    string            `json:"hook,omitempty"`
	Webroot string            `json:"webroot,omitempty"`
	// challenge is the URL of the challenge to accept (not journaled).
	challenge string
}

// checked says what the CA checks for this record.
func (r *record) checked(resolvers []string) string {
	switch r.Kind {
	case "http":
		return "http://" + r.Name + "/.well-known/acme-challenge/" + r.Token
	}
	at := strings.Join(resolvers, ", ")
	if at == "" {
		at = "the zone's authoritative servers"
	}
	return "TXT " + strings.TrimSuffix(r.FQDN, ".") + " at " + at
}

// authorize answers every pending authorization of the order: publish
// every record, wait until the DNS ones are visible, tell the CA, wait for
// its verdict. Every record published is removed before it returns.
func (c *Client) authorize(ctx context.Context, id string, names []string, keyID string, order acme.ExtendedOrder) (err error) {
	var recs []*record
	defer func() {
		// Cleanup runs even when ctx is cancelled (SIGINT): a record left
		// in DNS is what this must never do.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if cerr := c.unpublish(cctx, recs); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	for _, u := range order.Authorizations {
		var az acme.Authorization
		if err := c.retry(ctx, func() error {
			var err error
			az, err = c.core.Authorizations.Get(ctx, u)
			return err
		}); err != nil {
			return describe(err)
		}
		if az.Status == acme.StatusValid {
			continue
		}
		if az.Status != acme.StatusPending {
			return fmt.Errorf("%s: the authorization is %s", az.Identifier.Value, az.Status)
		}
		rec, err := c.recordFor(az)
		if err != nil {
			return err
		}
		if err := c.journal(func(rs []*record) []*record { return append(rs, rec) }); err != nil {
			return err
		}
		var checked []string
		for _, r := range append(recs[:len(recs):len(recs)], rec) {
			checked = append(checked, r.checked(c.o.Config.Resolvers))
		}
		c.setStateChecked(id, names, keyID, order.Location, StepChallengeWaiting, strings.Join(checked, "; "))
		if err := c.publish(ctx, rec); err != nil {
			// Refused: nothing was published, so there is nothing to remove.
			_ = c.journal(func(rs []*record) []*record {
				return slices.DeleteFunc(rs, func(x *record) bool { return x.same(rec) })
			})
			return fmt.Errorf("%s: publish the %s challenge: %w", rec.Name, rec.Kind, err)
		}
		recs = append(recs, rec)
	}
	for _, r := range recs {
		if r.Kind != "http" {
			if err := c.waitPropagation(ctx, r); err != nil {
				return err
			}
		}
	}
	for _, r := range recs {
		if err := c.retry(ctx, func() error {
			_, err := c.core.Challenges.New(ctx, r.challenge)
			return err
		}); err != nil {
			return &Problem{Name: r.Name, Type: problemType(err), Detail: describe(err).Error(), Checked: r.checked(c.o.Config.Resolvers)}
		}
	}
	for _, u := range order.Authorizations {
		if err := c.waitValid(ctx, u, recs); err != nil {
			return err
		}
	}
	return nil
}

func problemType(err error) string {
	var pd *acme.ProblemDetails
	if errors.As(err, &pd) {
		return pd.Type
	}
	return ""
}

// recordFor chooses the challenge of an authorization by the topology's rule.
func (c *Client) recordFor(az acme.Authorization) (*record, error) {
	name := az.Identifier.Value
	rule := c.o.Config.Rule(name)
	if rule == nil {
		return nil, fmt.Errorf("%s: %w: no acme challenge rule matches it", name, ErrInvalidInput)
	}
	want := "dns-01"
	if rule.HTTP01 != nil {
		want = "http-01"
	}
	for _, ch := range az.Challenges {
		if ch.Type != want {
			continue
		}
		keyAuth, err := c.core.GetKeyAuthorization(ch.Token)
		if err != nil {
			return nil, err
		}
		r := &record{Name: name, Token: ch.Token, KeyAuth: keyAuth, challenge: ch.URL}
		switch {
		case rule.HTTP01 != nil:
			r.Kind, r.Webroot = "http", rule.HTTP01.Webroot
		default:
			sum := sha256.Sum256([]byte(keyAuth))
			r.FQDN, r.Value = dns.Fqdn("_acme-challenge."+name), base64.RawURLEncoding.EncodeToString(sum[:])
			if rule.DNS01.RFC2136 != nil {
				rfc := *rule.DNS01.RFC2136
				r.Kind, r.RFC2136 = "rfc2136", &rfc
			} else {
				r.Kind, r.Hook = "hook", rule.DNS01.Hook
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("%s: the CA does not offer the %s challenge the topology asks for", name, want)
}

// publish puts the record where the CA will look.
func (c *Client) publish(ctx context.Context, r *record) error {
	switch r.Kind {
	case "http":
		dir := filepath.Join(r.Webroot, ".well-known", "acme-challenge")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(dir, r.Token), []byte(r.KeyAuth), 0o644)
	case "hook":
		return runHook(ctx, r.Hook, "present", r.FQDN, r.Value)
	case "rfc2136":
		p, err := c.updater(r.RFC2136)
		if err != nil {
			return err
		}
		return p.Present(ctx, r.Name, r.Token, r.KeyAuth)
	}
	return fmt.Errorf("unknown record kind %q", r.Kind)
}

// unpublish removes records and drops them from the journal; a record it
// cannot remove stays in the journal for the next run.
func (c *Client) unpublish(ctx context.Context, recs []*record) error {
	var errs []error
	var done []*record
	for _, r := range recs {
		var err error
		switch r.Kind {
		case "http":
			err = os.Remove(filepath.Join(r.Webroot, ".well-known", "acme-challenge", r.Token))
			if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		case "hook":
			err = runHook(ctx, r.Hook, "cleanup", r.FQDN, r.Value)
		case "rfc2136":
			var p *dnsupdate.DNSProvider
			if p, err = c.updater(r.RFC2136); err == nil {
				err = p.CleanUp(ctx, r.Name, r.Token, r.KeyAuth)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove the %s challenge of %s: %w", r.Kind, r.Name, err))
			continue
		}
		done = append(done, r)
	}
	if len(done) > 0 {
		if err := c.journal(func(rs []*record) []*record {
			return slices.DeleteFunc(rs, func(x *record) bool {
				return slices.ContainsFunc(done, func(d *record) bool { return d.same(x) })
			})
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *record) same(o *record) bool {
	return r.Kind == o.Kind && r.Name == o.Name && r.Token == o.Token
}

// updater is lego's RFC 2136 provider for one rule; the TSIG secret is
// read from its file at each use.
func (c *Client) updater(cfg *topology.RFC2136) (*dnsupdate.DNSProvider, error) {
	dc := &dnsupdate.Config{Nameserver: cfg.Server, DNSTimeout: 10 * time.Second, Zones: []string{cfg.Zone}, TTL: 60}
	if cfg.TSIGAlgorithm == topology.GSSTSIG {
		// GSS-TSIG (RFC 3645): lego negotiates a Kerberos context per
		// update, with the keytab or the password read from its file.
		dc.TSIGAlgorithm, dc.TSIGGSSRealm, dc.TSIGGSSUsername, dc.TSIGGSSKeytabFile = "gss-tsig.", cfg.GSSRealm, cfg.GSSUsername, cfg.GSSKeytabFile
		if cfg.GSSPasswordFile != "" {
			pw, err := readSecret(cfg.GSSPasswordFile, "gss_password_file")
			if err != nil {
				return nil, err
			}
			dc.TSIGGSSPassword = pw
		}
	} else {
		secret, err := readSecret(cfg.TSIGSecretFile, "tsig_secret_file")
		if err != nil {
			return nil, err
		}
		dc.TSIGAlgorithm, dc.TSIGKey, dc.TSIGSecret = cfg.TSIGAlgorithm, dns.Fqdn(cfg.TSIGKey), secret
	}
	p, err := dnsupdate.NewDNSProviderConfig(dc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return p, nil
}

// waitValid polls an authorization until the CA has decided.
func (c *Client) waitValid(ctx context.Context, url string, recs []*record) error {
	deadline := time.Now().Add(c.o.ValidationTimeout)
	wait := 100 * time.Millisecond
	for {
		var az acme.Authorization
		if err := c.retry(ctx, func() error {
			var err error
			az, err = c.core.Authorizations.Get(ctx, url)
			return err
		}); err != nil {
			return describe(err)
		}
		switch az.Status {
		case acme.StatusValid:
			return nil
		case acme.StatusInvalid, acme.StatusDeactivated, acme.StatusExpired, acme.StatusRevoked:
			p := &Problem{Name: az.Identifier.Value, Type: "authorization " + az.Status}
			for _, ch := range az.Challenges {
				if ch.Error != nil {
					p.Type, p.Detail = ch.Error.Type, ch.Error.Detail
				}
			}
			for _, r := range recs {
				if r.Name == az.Identifier.Value {
					p.Checked = r.checked(c.o.Config.Resolvers)
				}
			}
			return p
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the CA did not validate within %s", az.Identifier.Value, c.o.ValidationTimeout)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}
