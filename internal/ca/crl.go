package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/db"
)

var (
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRL       = asn1.ObjectIdentifier{2, 5, 29, 27}

	algRSASHA256   = []byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00}
	algECDSASHA256 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	algECDSASHA384 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}
)

// crlCache holds the full and delta CRLs this process last served: the
// latest stored in the database when it was asked (crlstore.go).
type crlCache struct {
	mu    sync.Mutex
	full  *db.CRL
	delta *db.CRL
}

// crlScheduler regenerates the CRLs in the background before half of their
// validity has passed, so that requests seldom wait for a signature.
func (e *Engine) crlScheduler() {
	defer e.wg.Done()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		c := &e.crl
		c.mu.Lock()
		if c.full != nil { // only once someone asked for a CRL
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if h, err := e.db.CRLHead(ctx); err == nil {
				_ = e.refreshCRLs(ctx, h.Revocations)
			}
			cancel()
		}
		c.mu.Unlock()
	}
}

// encodeCRL writes a CRL as DER by hand, streaming the revoked entries
// (stored DER-encoded at revocation) from the database into one buffer
// (about 50 bytes per entry) and signing the TBSCertList once. baseNumber > 0 makes a delta CRL of the revocations
// since deltaSince.
func (e *Engine) encodeCRL(ctx context.Context, number, baseNumber int64, this, next time.Time, deltaSince time.Time) ([]byte, error) {
	alg, err := sigAlgorithmID(e.signer.Public())
	if err != nil {
		return nil, err
	}
	hint := int64(0)
	if baseNumber == 0 {
		if hint, err = e.db.RevokedCount(ctx); err != nil {
			return nil, wrapDB(err)
		}
	}
	reserve := 64 + len(alg) + len(e.issuer.RawSubject)
	buf := make([]byte, reserve, reserve+int(hint)*52+1024)
	since := deltaSince
	if baseNumber == 0 {
		since = time.Time{}
	}
	n := 0
	err = e.db.RevokedEach(ctx, since, func(entry []byte) error {
		buf = append(buf, entry...)
		if n++; n%65536 == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return nil, wrapDB(err)
	}
	entriesLen := len(buf) - reserve
	exts, err := crlExtensions(e.issuer.SubjectKeyId, number, baseNumber)
	if err != nil {
		return nil, err
	}
	buf = append(buf, exts...)
	// The TBS prefix, right-aligned before the entries.
	prefix := make([]byte, 0, reserve)
	var mid []byte
	mid = append(mid, 0x02, 0x01, 0x01) // version v2
	mid = append(mid, alg...)
	mid = append(mid, e.issuer.RawSubject...)
	mid = appendTime(mid, this.Unix())
	mid = appendTime(mid, next.Unix())
	if entriesLen > 0 {
		mid = append(mid, 0x30)
		mid = appendLen(mid, entriesLen)
	}
	tbsContent := len(mid) + entriesLen + len(exts)
	prefix = append(prefix, 0x30)
	prefix = appendLen(prefix, tbsContent)
	prefix = append(prefix, mid...)
	start := reserve - len(prefix)
	if start < 8 {
		return nil, fmt.Errorf("CRL prefix too long")
	}
	copy(buf[start:], prefix)
	tbs := buf[start:]
	h := sigHash(e.signer.Public())
	d := h.New()
	d.Write(tbs)
	sig, err := e.signer.Sign(e.rand, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("signing the CRL: %w", err)
	}
	tbsLen := len(tbs)
	buf = append(buf, alg...)
	buf = append(buf, 0x03)
	buf = appendLen(buf, len(sig)+1)
	buf = append(buf, 0x00)
	buf = append(buf, sig...)
	outer := appendLen([]byte{0x30}, tbsLen+len(alg)+lenOfLen(len(sig)+1)+1+len(sig)+1)
	start -= len(outer)
	copy(buf[start:], outer)
	return buf[start:], nil
}

// sigAlgorithmID is the DER AlgorithmIdentifier the CA key signs with.
func sigAlgorithmID(pub crypto.PublicKey) ([]byte, error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		if k.Curve.Params().BitSize > 256 {
			return algECDSASHA384, nil
		}
		return algECDSASHA256, nil
	}
	if sigHash(pub) == crypto.SHA256 {
		return algRSASHA256, nil
	}
	return nil, fmt.Errorf("unsupported CA key %T", pub)
}

// crlExtensions encodes [0] EXPLICIT Extensions: AKI, CRL number, and the
// (critical) delta CRL indicator for a delta CRL.
func crlExtensions(ski []byte, number, base int64) ([]byte, error) {
	aki, err := asn1.Marshal(struct {
		ID []byte `asn1:"optional,tag:0"`
	}{ski})
	if err != nil {
		return nil, err
	}
	num, _ := asn1.Marshal(big.NewInt(number))
	exts := []pkix.Extension{{Id: oidAuthorityKeyID, Value: aki}, {Id: oidCRLNumber, Value: num}}
	if base > 0 {
		b, _ := asn1.Marshal(big.NewInt(base))
		exts = append(exts, pkix.Extension{Id: oidDeltaCRL, Critical: true, Value: b})
	}
	seq, err := asn1.Marshal(exts)
	if err != nil {
		return nil, err
	}
	out := appendLen([]byte{0xa0}, len(seq))
	return append(out, seq...), nil
}

// serialBytes decodes a hex serial into the DER INTEGER content octets.
func serialBytes(dst []byte, serial string) ([]byte, error) {
	if len(serial) == 0 || len(serial) > 2*len(dst)-4 {
		return nil, fmt.Errorf("invalid serial %q in the database", serial)
	}
	var src [80]byte
	s := src[:0]
	if len(serial)%2 == 1 {
		s = append(s, '0')
	}
	s = append(s, serial...)
	end := 1 + len(s)/2
	if _, err := hex.Decode(dst[1:end], s); err != nil {
		return nil, fmt.Errorf("invalid serial %q in the database", serial)
	}
	i := 1
	for i < end-1 && dst[i] == 0 && dst[i+1]&0x80 == 0 {
		i++
	}
	if dst[i]&0x80 != 0 {
		i--
		dst[i] = 0
	}
	return dst[i:end], nil
}

// appendCRLEntry appends one revokedCertificates entry.
func appendCRLEntry(b, serial []byte, at int64, reason int) []byte {
	content := 2 + len(serial) + timeLen(at)
	if reason != 0 {
		content += 14
	}
	b = append(b, 0x30)
	b = appendLen(b, content)
	b = append(b, 0x02, byte(len(serial)))
	b = append(b, serial...)
	b = appendTime(b, at)
	if reason != 0 {
		// Extensions { Extension { reasonCode, OCTET STRING { ENUMERATED } } }
		b = append(b, 0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, byte(reason))
	}
	return b
}

func timeLen(unix int64) int {
	y := time.Unix(unix, 0).UTC().Year()
	if y >= 1950 && y < 2050 {
		return 15
	}
	return 17
}

// appendTime appends UTCTime (1950-2049) or GeneralizedTime, as RFC 5280 requires.
func appendTime(b []byte, unix int64) []byte {
	t := time.Unix(unix, 0).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	if y >= 1950 && y < 2050 {
		b = append(b, 0x17, 13)
		b = two(b, y%100)
	} else {
		b = append(b, 0x18, 15)
		b = two(b, y/100)
		b = two(b, y%100)
	}
	b = two(b, int(mo))
	b = two(b, d)
	b = two(b, h)
	b = two(b, mi)
	b = two(b, s)
	return append(b, 'Z')
}

// appendLen appends a DER length.
func appendLen(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func lenOfLen(n int) int { return len(appendLen(nil, n)) }

// crlEntry encodes the revokedCertificates entry of one revocation.
func crlEntry(serial string, at time.Time, reason int) ([]byte, error) {
	var buf [40]byte
	sb, err := serialBytes(buf[:], serial)
	if err != nil {
		return nil, err
	}
	return appendCRLEntry(make([]byte, 0, 64), sb, at.Unix(), reason), nil
}

func timeUnix(s int64) time.Time { return time.Unix(s, 0) }

// RenewRootCRL re-signs the root CA's CRL (no entries: this CA never
// revokes its own issuing CA) with the next CRL number and a year of
// validity, using the root key, and returns it (DER). For a root-only CA it
// is CRL(ctx, false).
func (e *Engine) RenewRootCRL(ctx context.Context) ([]byte, error) {
	if e.keys == nil {
		return nil, fmt.Errorf("the CA was opened without its key: %w", ErrBadRequest)
	}
	if e.cfg.RootOnly {
		return e.CRL(ctx, false)
	}
	label, _ := keyLabels(e.cfg)
	key, err := e.keys.open(label)
	if err != nil {
		return nil, err
	}
	if !certfmt.PublicKeysEqual(key.Public(), e.root.PublicKey) {
		return nil, fmt.Errorf("the root key does not match %s: %w", rootCertFile, ErrBadRequest)
	}
	number := big.NewInt(1)
	if old, err := e.RootCRL(); err == nil {
		if crl, err := x509.ParseRevocationList(old); err == nil && crl.Number != nil {
			number = new(big.Int).Add(crl.Number, big.NewInt(1))
		}
	}
	now := e.now().UTC().Truncate(time.Second)
	der, err := x509.CreateRevocationList(e.rand, &x509.RevocationList{Number: number, ThisUpdate: now, NextUpdate: now.Add(365 * 24 * time.Hour)}, e.root, key)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(e.dir, rootCRLFile), der, fileMode); err != nil {
		return nil, err
	}
	return der, wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: "root-crl", Subject: e.root.Subject.CommonName,
		Result: "ok", Detail: "CRL number " + number.String()}))
}
