package ca

import (
	"crypto/x509"
	"encoding/asn1"
	"net"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The TBSCertificate is encoded here rather than through
// x509.CreateCertificate, which always signs (and verifies) what it builds:
// the engine lints the exact TBS and then signs it once with the CA key.
// It is written with cryptobyte, field by field: encoding/asn1's
// reflection cost more than the P-256 signature. tbs_ref_test.go keeps the
// reflective encoder as the reference the output is compared with.

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCRLDistPoints    = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidAuthorityInfo    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidAccessOCSP       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1}
	oidAccessCAIssuers  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 2}
)

var (
	tagExplicit0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagExplicit3 = cbasn1.Tag(3).Constructed().ContextSpecific()
	tagImplicit0 = cbasn1.Tag(0).ContextSpecific()
	tagDNSName   = cbasn1.Tag(2).ContextSpecific()
	tagURI       = cbasn1.Tag(6).ContextSpecific()
	tagIPAddress = cbasn1.Tag(7).ContextSpecific()
)

// encodeTBS encodes tmpl (the fields certTemplate sets) for the issuing CA
// with signature algorithm alg and the subject public key info spki.
func (e *Engine) encodeTBS(tmpl *x509.Certificate, spki, alg []byte) ([]byte, error) {
	subject := tmpl.RawSubject
	if len(subject) == 0 {
		var err error
		if subject, err = asn1.Marshal(tmpl.Subject.ToRDNSequence()); err != nil {
			return nil, err
		}
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 1024))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
		b.AddASN1BigInt(tmpl.SerialNumber)
		b.AddBytes(alg)
		b.AddBytes(e.issuer.RawSubject)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, tmpl.NotBefore)
			addTime(b, tmpl.NotAfter)
		})
		b.AddBytes(subject)
		b.AddBytes(spki)
		b.AddASN1(tagExplicit3, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				e.addLeafExtensions(b, tmpl, len(subject) <= 2)
				for _, x := range tmpl.ExtraExtensions {
					addExtension(b, x.Id, x.Critical, func(b *cryptobyte.Builder) { b.AddBytes(x.Value) })
				}
			})
		})
	})
	return b.Bytes()
}

// addTime writes t as encoding/asn1 does: UTCTime from 1950 to 2049,
// GeneralizedTime otherwise.
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if y := t.Year(); y >= 1950 && y < 2050 {
		b.AddASN1UTCTime(t)
		return
	}
	b.AddASN1GeneralizedTime(t)
}

// addExtension writes Extension ::= SEQUENCE { extnID, critical DEFAULT
// FALSE, extnValue OCTET STRING }.
func addExtension(b *cryptobyte.Builder, id asn1.ObjectIdentifier, critical bool, value cryptobyte.BuilderContinuation) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(id)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(cbasn1.OCTET_STRING, value)
	})
}

// addLeafExtensions writes basic constraints, SKI, AKI, AIA, SAN and CDP.
func (e *Engine) addLeafExtensions(b *cryptobyte.Builder, tmpl *x509.Certificate, emptySubject bool) {
	addExtension(b, oidBasicConstraints, true, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if tmpl.IsCA {
				b.AddASN1Boolean(true)
				if tmpl.MaxPathLen > 0 || tmpl.MaxPathLenZero {
					b.AddASN1Int64(int64(tmpl.MaxPathLen))
				}
			}
		})
	})
	addExtension(b, oidSubjectKeyID, false, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(tmpl.SubjectKeyId)
	})
	addExtension(b, oidAuthorityKeyID, false, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if len(e.issuer.SubjectKeyId) > 0 {
				b.AddASN1(tagImplicit0, func(b *cryptobyte.Builder) { b.AddBytes(e.issuer.SubjectKeyId) })
			}
		})
	})
	if len(tmpl.OCSPServer) > 0 || len(tmpl.IssuingCertificateURL) > 0 {
		addExtension(b, oidAuthorityInfo, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				access := func(method asn1.ObjectIdentifier, u string) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(method)
						b.AddASN1(tagURI, func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
					})
				}
				for _, u := range tmpl.OCSPServer {
					access(oidAccessOCSP, u)
				}
				for _, u := range tmpl.IssuingCertificateURL {
					access(oidAccessCAIssuers, u)
				}
			})
		})
	}
	if len(tmpl.DNSNames) > 0 || len(tmpl.IPAddresses) > 0 {
		addExtension(b, oidSubjectAltName, emptySubject, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, n := range tmpl.DNSNames {
					b.AddASN1(tagDNSName, func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
				}
				for _, ip := range tmpl.IPAddresses {
					if v4 := ip.To4(); v4 != nil {
						ip = v4
					}
					b.AddASN1(tagIPAddress, func(b *cryptobyte.Builder) { b.AddBytes([]byte(net.IP(ip))) })
				}
			})
		})
	}
	if len(tmpl.CRLDistributionPoints) > 0 {
		addExtension(b, oidCRLDistPoints, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, u := range tmpl.CRLDistributionPoints {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
							b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
								b.AddASN1(tagURI, func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
							})
						})
					})
				}
			})
		})
	}
}
