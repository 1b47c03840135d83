package certfmt

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Certificates as the field has them: Windows and older CAs issued
// certificates with a negative serial number (a DER INTEGER whose first
// bit is set). crypto/x509 refuses them since Go 1.23; Windows, OpenSSL and
// NSS read them. They are read here with their raw encoding untouched, and
// the serial shown as Windows shows it (SerialHex). The CA of this program
// never issues one (ca.randomSerial).

// errNegativeSerial is crypto/x509's message for a negative serial.
const errNegativeSerial = "x509: negative serial number"

// ParseCertificate parses one DER certificate like x509.ParseCertificate,
// and also one whose serial number is negative: it is parsed with the
// serial's sign bit cleared and then given back its own encoding (Raw,
// RawTBSCertificate) and its negative SerialNumber, so that its
// thumbprint, signature and every byte stored or exported are the
// original ones.
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil || !strings.Contains(err.Error(), errNegativeSerial) {
		return c, err
	}
	fixed, tbs, serial, ok := positiveSerialCopy(der)
	if !ok {
		return nil, err
	}
	c, err2 := x509.ParseCertificate(fixed)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	c.Raw = der
	c.RawTBSCertificate = tbs
	c.SerialNumber = serial
	return c, nil
}

// positiveSerialCopy returns a copy of der whose serial's first octet is
// 0x7F (same length, still minimal DER), the original TBSCertificate, and
// the original serial as a (negative) number.
func positiveSerialCopy(der []byte) (fixed, tbs []byte, serial *big.Int, ok bool) {
	in := cryptobyte.String(der)
	var cert, rawTBS cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() || !cert.ReadASN1Element(&rawTBS, cbasn1.SEQUENCE) {
		return nil, nil, nil, false
	}
	tbsStart := len(der) - len(in) - len(cert) - len(rawTBS) // cert holds what follows the TBS
	body := rawTBS
	var tbsBody cryptobyte.String
	if !body.ReadASN1(&tbsBody, cbasn1.SEQUENCE) {
		return nil, nil, nil, false
	}
	bodyStart := tbsStart + len(rawTBS) - len(tbsBody)
	rest := tbsBody
	version := cbasn1.Tag(0).Constructed().ContextSpecific()
	if rest.PeekASN1Tag(version) && !rest.SkipASN1(version) {
		return nil, nil, nil, false
	}
	var serialOctets cryptobyte.String
	if !rest.ReadASN1(&serialOctets, cbasn1.INTEGER) || len(serialOctets) == 0 || serialOctets[0]&0x80 == 0 {
		return nil, nil, nil, false
	}
	off := bodyStart + len(tbsBody) - len(rest) - len(serialOctets)
	serial = new(big.Int).SetBytes(serialOctets)
	serial.Sub(serial, new(big.Int).Lsh(big.NewInt(1), uint(8*len(serialOctets))))
	fixed = append([]byte(nil), der...)
	fixed[off] = 0x7f
	return fixed, der[tbsStart : tbsStart+len(rawTBS)], serial, true
}

// SerialHex is the serial number as Windows shows it: the upper-case hex of
// its encoded octets. For a positive serial it is the number in hex
// without leading zeros (as this program has always shown it); for a
// negative one, the two's complement octets (80… to FF…).
func SerialHex(n *big.Int) string {
	if n.Sign() >= 0 {
		return strings.ToUpper(n.Text(16))
	}
	// The minimal two's complement: the fewest octets whose value, read as
	// signed, is n.
	size := (n.BitLen() + 8) / 8
	for size > 1 {
		lo := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), uint(8*(size-1)-1)))
		if n.Cmp(lo) < 0 {
			break
		}
		size--
	}
	v := new(big.Int).Add(n, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	b := v.FillBytes(make([]byte, size))
	return strings.ToUpper(fmt.Sprintf("%X", b))
}
