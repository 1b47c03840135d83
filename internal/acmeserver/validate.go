package acmeserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ValidationOptions configure how the CA validates challenges (RFC 8555
// §8.3, §8.4, RFC 8737).
type ValidationOptions struct {
	// Resolver is the DNS server (host:port) every lookup of a
	// validation asks: names to connect to, and dns-01's TXT records.
	// Empty: the system's resolver.
	Resolver string
	// HTTPPort is the port http-01 connects to (default 80), and
	// TLSPort the one tls-alpn-01 connects to (default 443); an http-01
	// redirect to https goes to TLSPort too. Other values than the
	// defaults are for tests and labs.
	HTTPPort, TLSPort int
	// Timeout bounds one attempt (default 10 s); Attempts is how many
	// attempts a validation makes at most (default 3), Pause the wait
	// between two (default 1 s).
	Timeout  time.Duration
	Attempts int
	Pause    time.Duration
}

type validator struct {
	o   ValidationOptions
	res *net.Resolver
}

func newValidator(o ValidationOptions) (*validator, error) {
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.TLSPort == 0 {
		o.TLSPort = 443
	}
	if o.HTTPPort < 1 || o.HTTPPort > 65535 || o.TLSPort < 1 || o.TLSPort > 65535 {
		return nil, fmt.Errorf("acme validation ports %d and %d: not ports", o.HTTPPort, o.TLSPort)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Pause <= 0 {
		o.Pause = time.Second
	}
	v := &validator{o: o, res: net.DefaultResolver}
	if o.Resolver != "" {
		if _, _, err := net.SplitHostPort(o.Resolver); err != nil {
			return nil, fmt.Errorf("acme resolver %q: not host:port", o.Resolver)
		}
		v.res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, o.Resolver)
		}}
	}
	return v, nil
}

// keyAuthorization is token || '.' || thumbprint of the account key (§8.1).
func keyAuthorization(token string, key crypto.PublicKey) (string, error) {
	tp, err := Thumbprint(key)
	if err != nil {
		return "", err
	}
	return token + "." + tp, nil
}

// validate runs a challenge, attempting at most Attempts times.
func (v *validator) validate(ctx context.Context, typ string, id Identifier, token, keyAuth string) error {
	var err error
	for i := 0; i < v.o.Attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return NewProblem(Connection, "validation cancelled: %v", ctx.Err())
			case <-time.After(v.o.Pause):
			}
		}
		actx, cancel := context.WithTimeout(ctx, v.o.Timeout)
		switch typ {
		case HTTP01:
			err = v.http01(actx, id, token, keyAuth)
		case TLSALPN01:
			err = v.tlsALPN01(actx, id, keyAuth)
		case DNS01:
			err = v.dns01(actx, id, keyAuth)
		default:
			err = NewProblem(Malformed, "challenge type %s is not supported", quoteShort(typ))
		}
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// dial connects to host (a name resolved through the resolver, or an
// address) on port.
func (v *validator) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	var addrs []string
	if ip := net.ParseIP(host); ip != nil {
		addrs = []string{ip.String()}
	} else {
		ips, err := v.res.LookupIPAddr(ctx, host)
		if err != nil || len(ips) == 0 {
			return nil, NewProblem(DNS, "no address for %s: %v", host, dnsErr(err))
		}
		for _, ip := range ips {
			addrs = append(addrs, ip.IP.String())
		}
	}
	var d net.Dialer
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a, strconv.Itoa(port)))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, NewProblem(Connection, "connecting to %s port %d: %v", host, port, last)
}

func dnsErr(err error) string {
	if err == nil {
		return "no records"
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsNotFound {
			return "no such name"
		}
		if de.IsTimeout {
			return "timeout"
		}
		return de.Err
	}
	return err.Error()
}

// maxHTTP01Body bounds the body read from an http-01 answer.
const maxHTTP01Body = 1 << 10

// http01 fetches http://<id>/.well-known/acme-challenge/<token> (§8.3):
// port 80 (HTTPPort), at most 10 redirects to http or https on the
// default ports, the body (without surrounding white space) the key
// authorization.
func (v *validator) http01(ctx context.Context, id Identifier, token, keyAuth string) error {
	host := id.Value
	if id.Type == "ip" && strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			h, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			port := v.o.HTTPPort
			if p == "443" {
				port = v.o.TLSPort
			}
			return v.dial(ctx, h, port)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // §8.3: a redirect to https is followed without checking the certificate
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return NewProblem(Connection, "too many redirects")
		}
		if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
			return NewProblem(Connection, "redirect to %s: only http and https", quoteShort(r.URL.Scheme))
		}
		if p := r.URL.Port(); p != "" && p != "80" && p != "443" {
			return NewProblem(Connection, "redirect to port %s: only 80 and 443", p)
		}
		return nil
	}}
	u := "http://" + host + "/.well-known/acme-challenge/" + url.PathEscape(token)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return NewProblem(Malformed, "http-01 URL: %v", err)
	}
	req.Header.Set("User-Agent", "edgecert-acme-validation")
	resp, err := client.Do(req)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return p
		}
		return NewProblem(Connection, "http-01 %s: %v", u, cleanErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return NewProblem(Unauthorized, "http-01 %s answered %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTP01Body+1))
	if err != nil {
		return NewProblem(Connection, "http-01 %s: reading: %v", u, cleanErr(err))
	}
	if len(body) > maxHTTP01Body {
		return NewProblem(Unauthorized, "http-01 %s: the answer is longer than a key authorization", u)
	}
	if got := strings.TrimSpace(string(body)); got != keyAuth {
		return NewProblem(IncorrectResponse, "http-01 %s: the answer is not the key authorization", u)
	}
	return nil
}

// cleanErr drops the Go wrapping of an error (its text still names the cause).
func cleanErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

var oidACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// tlsALPN01 connects with ALPN acme-tls/1 and the name as SNI (RFC 8737
// §3): the certificate names exactly the identifier and has a critical
// id-pe-acmeIdentifier extension with the SHA-256 of the key authorization.
func (v *validator) tlsALPN01(ctx context.Context, id Identifier, keyAuth string) error {
	conn, err := v.dial(ctx, id.Value, v.o.TLSPort)
	if err != nil {
		return err
	}
	defer conn.Close()
	sni := id.Value
	if id.Type == "ip" {
		sni = reverseName(net.ParseIP(id.Value))
	}
	tc := tls.Client(conn, &tls.Config{ServerName: sni, NextProtos: []string{"acme-tls/1"}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		return NewProblem(TLS, "tls-alpn-01 %s: handshake: %v", id.Value, err)
	}
	st := tc.ConnectionState()
	if st.NegotiatedProtocol != "acme-tls/1" || len(st.PeerCertificates) == 0 {
		return NewProblem(Unauthorized, "tls-alpn-01 %s: the server did not negotiate acme-tls/1", id.Value)
	}
	cert := st.PeerCertificates[0]
	if !namesOnly(cert, id) {
		return NewProblem(Unauthorized, "tls-alpn-01 %s: the certificate must name exactly %s", id.Value, id.Value)
	}
	want := sha256.Sum256([]byte(keyAuth))
	for _, e := range cert.Extensions {
		if !e.Id.Equal(oidACMEIdentifier) {
			continue
		}
		var got []byte
		if rest, err := asn1.Unmarshal(e.Value, &got); err != nil || len(rest) != 0 || !e.Critical {
			return NewProblem(Unauthorized, "tls-alpn-01 %s: the acmeIdentifier extension is malformed or not critical", id.Value)
		}
		if !bytes.Equal(got, want[:]) {
			return NewProblem(IncorrectResponse, "tls-alpn-01 %s: the acmeIdentifier is not the key authorization's digest", id.Value)
		}
		return nil
	}
	return NewProblem(Unauthorized, "tls-alpn-01 %s: the certificate has no acmeIdentifier extension", id.Value)
}

func namesOnly(cert *x509.Certificate, id Identifier) bool {
	if len(cert.EmailAddresses)+len(cert.URIs) > 0 {
		return false
	}
	if id.Type == "ip" {
		return len(cert.DNSNames) == 0 && len(cert.IPAddresses) == 1 && cert.IPAddresses[0].String() == id.Value
	}
	return len(cert.IPAddresses) == 0 && len(cert.DNSNames) == 1 && strings.EqualFold(cert.DNSNames[0], id.Value)
}

// reverseName is the in-addr.arpa / ip6.arpa name of ip (RFC 8738 §6).
func reverseName(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", v4[3], v4[2], v4[1], v4[0])
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := len(ip) - 1; i >= 0; i-- {
		b.WriteByte(hex[ip[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[ip[i]>>4])
		b.WriteByte('.')
	}
	return b.String() + "ip6.arpa"
}

// maxCNAMEs bounds the CNAME chain dns-01 follows.
const maxCNAMEs = 8

// dns01 looks up TXT _acme-challenge.<name> through the resolver,
// following CNAMEs (§8.4): one record must be the base64url SHA-256 of
// the key authorization.
func (v *validator) dns01(ctx context.Context, id Identifier, keyAuth string) error {
	if id.Type != "dns" {
		return NewProblem(Malformed, "dns-01 is for dns identifiers")
	}
	sum := sha256.Sum256([]byte(keyAuth))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	name := "_acme-challenge." + id.Value + "."
	var lastErr error
	for i := 0; i <= maxCNAMEs; i++ {
		txts, err := v.res.LookupTXT(ctx, name)
		for _, t := range txts {
			if t == want {
				return nil
			}
		}
		if err == nil && len(txts) > 0 {
			return NewProblem(IncorrectResponse, "dns-01 %s: no TXT record is the key authorization's digest", strings.TrimSuffix(name, "."))
		}
		lastErr = err
		target, cerr := v.res.LookupCNAME(ctx, name)
		if cerr != nil || strings.EqualFold(target, name) || target == "" {
			break
		}
		name = target
	}
	return NewProblem(DNS, "dns-01 %s: no TXT record (%s)", "_acme-challenge."+id.Value, dnsErr(lastErr))
}
