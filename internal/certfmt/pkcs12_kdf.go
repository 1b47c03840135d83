package certfmt

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"hash"
	"unicode/utf16"
)

// The PKCS#12 key derivation function (RFC 7292 appendix B.2), used by the
// legacy PBE schemes (ID 1: key, ID 2: IV) and by every non-PBMAC1 MAC
// (ID 3), with the password as a BMPString with two trailing zero bytes.

const (
	kdfKey = 1
	kdfIV  = 2
	kdfMAC = 3
)

// bmpPassword encodes a password as PKCS#12 wants it: UTF-16 big-endian
// with a terminating zero character. An empty password gives "\x00\x00".
func bmpPassword(password string) []byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return append(b, 0, 0)
}

// pkcs12KDF derives size bytes from the BMP password and salt.
func pkcs12KDF(newHash func() hash.Hash, password, salt []byte, id byte, iterations, size int) []byte {
	h := newHash()
	u, v := h.Size(), h.BlockSize()
	fill := func(src []byte) []byte {
		if len(src) == 0 {
			return nil
		}
		out := make([]byte, v*((len(src)+v-1)/v))
		for i := range out {
			out[i] = src[i%len(src)]
		}
		return out
	}
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt), fill(password)...)
	out := make([]byte, 0, size+u)
	b := make([]byte, v)
	for len(out) < size {
		h.Reset()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for r := 1; r < iterations; r++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= size {
			break
		}
		for i := range b {
			b[i] = a[i%u]
		}
		for j := 0; j < len(in); j += v {
			addOne(in[j:j+v], b)
		}
	}
	return out[:size]
}

// addOne sets block = block + b + 1 modulo 2^(8·len(block)).
func addOne(block, b []byte) {
	carry := uint16(1)
	for i := len(block) - 1; i >= 0; i-- {
		s := uint16(block[i]) + uint16(b[i]) + carry
		block[i] = byte(s)
		carry = s >> 8
	}
}

// digestHash returns the hash of a digest OID (SHA-1, SHA-2).
func digestHash(oid asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return sha1.New, true
	case oid.Equal(oidSHA256):
		return sha256.New, true
	case oid.Equal(oidSHA384):
		return sha512.New384, true
	case oid.Equal(oidSHA512):
		return sha512.New, true
	}
	return nil, false
}

// hmacHash returns the hash of an HMAC OID (PBKDF2 PRF, PBMAC1 scheme);
// an absent OID is the PBKDF2 default, HMAC-SHA1.
func hmacHash(oid asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACWithSHA1):
		return sha1.New, true
	case oid.Equal(oidHMACWithSHA256):
		return sha256.New, true
	case oid.Equal(oidHMACWithSHA384):
		return sha512.New384, true
	case oid.Equal(oidHMACWithSHA512):
		return sha512.New, true
	}
	return nil, false
}
