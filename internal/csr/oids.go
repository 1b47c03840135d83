package csr

import (
	"crypto/x509"
	"encoding/asn1"
)

var (
	oidExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	// OIDTemplateName is the Microsoft certificate template name extension
	// (szOID_ENROLL_CERTTYPE_EXTENSION): a BMPString naming the template.
	OIDTemplateName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2}
	// OIDTemplateV2 is the Microsoft certificate template information
	// extension (szOID_CERTIFICATE_TEMPLATE): the template's OID and version.
	OIDTemplateV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 21, 7}
	// OIDEnrollmentNameValuePair is the request attribute certreq writes for
	// "CertificateTemplate:NAME" (szOID_ENROLLMENT_NAME_VALUE_PAIR).
	OIDEnrollmentNameValuePair = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 13, 2, 1}

	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
)

// extKeyUsages maps the extended key usages a request may ask for to their
// OIDs and the names Windows shows.
var extKeyUsages = []struct {
	usage x509.ExtKeyUsage
	oid   asn1.ObjectIdentifier
	name  string
}{
	{x509.ExtKeyUsageServerAuth, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}, "Server Authentication"},
	{x509.ExtKeyUsageClientAuth, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}, "Client Authentication"},
	{x509.ExtKeyUsageCodeSigning, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}, "Code Signing"},
	{x509.ExtKeyUsageEmailProtection, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}, "Secure Email"},
	{x509.ExtKeyUsageIPSECEndSystem, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 5}, "IP security end system"},
	{x509.ExtKeyUsageIPSECTunnel, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 6}, "IP security tunnel termination"},
	{x509.ExtKeyUsageIPSECUser, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 7}, "IP security user"},
	{x509.ExtKeyUsageTimeStamping, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}, "Time Stamping"},
	{x509.ExtKeyUsageOCSPSigning, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 9}, "OCSP Signing"},
	{x509.ExtKeyUsageAny, asn1.ObjectIdentifier{2, 5, 29, 37, 0}, "Any Purpose"},
}

// keyUsageNames are the Key Usage bits in order, with the names Windows shows.
var keyUsageNames = []struct {
	usage x509.KeyUsage
	name  string
}{
	{x509.KeyUsageDigitalSignature, "Digital Signature"},
	{x509.KeyUsageContentCommitment, "Non-Repudiation"},
	{x509.KeyUsageKeyEncipherment, "Key Encipherment"},
	{x509.KeyUsageDataEncipherment, "Data Encipherment"},
	{x509.KeyUsageKeyAgreement, "Key Agreement"},
	{x509.KeyUsageCertSign, "Certificate Signing"},
	{x509.KeyUsageCRLSign, "CRL Signing"},
	{x509.KeyUsageEncipherOnly, "Encipher Only"},
	{x509.KeyUsageDecipherOnly, "Decipher Only"},
}
