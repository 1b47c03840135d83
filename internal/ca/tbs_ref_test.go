package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"time"
)

// The reference TBSCertificate encoder, through encoding/asn1's reflection:
// tbs.go's hand-written encoder must produce the same bytes.

type tbsCertificate struct {
	Version    int `asn1:"optional,explicit,default:0,tag:0"`
	Serial     *big.Int
	Algorithm  asn1.RawValue
	Issuer     asn1.RawValue
	Validity   tbsValidity
	Subject    asn1.RawValue
	PublicKey  asn1.RawValue
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
}

type tbsValidity struct{ NotBefore, NotAfter time.Time }

type basicConstraints struct {
	IsCA    bool `asn1:"optional"`
	PathLen int  `asn1:"optional,default:-1"`
}

type accessDescription struct {
	Method   asn1.ObjectIdentifier
	Location asn1.RawValue
}

type distributionPoint struct {
	Name distributionPointName `asn1:"optional,tag:0"`
}

type distributionPointName struct {
	FullName []asn1.RawValue `asn1:"optional,tag:0"`
}

func uriName(u string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)}
}

// encodeTBS encodes tmpl (the fields certTemplate sets) for the issuing CA
// with signature algorithm alg and the subject public key info spki.
func (e *Engine) encodeTBSReflect(tmpl *x509.Certificate, spki, alg []byte) ([]byte, error) {
	subject := tmpl.RawSubject
	if len(subject) == 0 {
		var err error
		if subject, err = asn1.Marshal(tmpl.Subject.ToRDNSequence()); err != nil {
			return nil, err
		}
	}
	exts, err := e.leafExtensionsReflect(tmpl, len(subject) <= 2)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(tbsCertificate{
		Version: 2, Serial: tmpl.SerialNumber, Algorithm: asn1.RawValue{FullBytes: alg},
		Issuer: asn1.RawValue{FullBytes: e.issuer.RawSubject}, Validity: tbsValidity{tmpl.NotBefore.UTC(), tmpl.NotAfter.UTC()},
		Subject: asn1.RawValue{FullBytes: subject}, PublicKey: asn1.RawValue{FullBytes: spki},
		Extensions: append(exts, tmpl.ExtraExtensions...),
	})
}

// leafExtensions encodes basic constraints, SKI, AKI, AIA, SAN and CDP.
func (e *Engine) leafExtensionsReflect(tmpl *x509.Certificate, emptySubject bool) ([]pkix.Extension, error) {
	bc := basicConstraints{IsCA: tmpl.IsCA, PathLen: -1}
	if tmpl.IsCA && (tmpl.MaxPathLen > 0 || tmpl.MaxPathLenZero) {
		bc.PathLen = tmpl.MaxPathLen
	}
	var out []pkix.Extension
	add := func(id asn1.ObjectIdentifier, critical bool, v any) error {
		b, err := asn1.Marshal(v)
		if err == nil {
			out = append(out, pkix.Extension{Id: id, Critical: critical, Value: b})
		}
		return err
	}
	if err := add(oidBasicConstraints, true, bc); err != nil {
		return nil, err
	}
	if err := add(oidSubjectKeyID, false, tmpl.SubjectKeyId); err != nil {
		return nil, err
	}
	aki := struct {
		ID []byte `asn1:"optional,tag:0"`
	}{e.issuer.SubjectKeyId}
	if err := add(oidAuthorityKeyID, false, aki); err != nil {
		return nil, err
	}
	var aia []accessDescription
	for _, u := range tmpl.OCSPServer {
		aia = append(aia, accessDescription{oidAccessOCSP, uriName(u)})
	}
	for _, u := range tmpl.IssuingCertificateURL {
		aia = append(aia, accessDescription{oidAccessCAIssuers, uriName(u)})
	}
	if len(aia) > 0 {
		if err := add(oidAuthorityInfo, false, aia); err != nil {
			return nil, err
		}
	}
	if len(tmpl.DNSNames) > 0 || len(tmpl.IPAddresses) > 0 {
		var names []asn1.RawValue
		for _, n := range tmpl.DNSNames {
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(n)})
		}
		for _, ip := range tmpl.IPAddresses {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: []byte(net.IP(ip))})
		}
		if err := add(oidSubjectAltName, emptySubject, names); err != nil {
			return nil, err
		}
	}
	if len(tmpl.CRLDistributionPoints) > 0 {
		var dps []distributionPoint
		for _, u := range tmpl.CRLDistributionPoints {
			dps = append(dps, distributionPoint{Name: distributionPointName{FullName: []asn1.RawValue{uriName(u)}}})
		}
		if err := add(oidCRLDistPoints, false, dps); err != nil {
			return nil, err
		}
	}
	return out, nil
}
