package certfmt

import (
	"bytes"
	"testing"
)

// toIndefinite re-encodes DER as BER: every constructed value gets an
// indefinite length, and every OCTET STRING (or primitive [0], the
// implicitly tagged encryptedContent of EncryptedData) longer than 64 bytes
// is split into a constructed string of 64-byte segments, as Windows writes.
func toIndefinite(t testing.TB, der []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for len(der) > 0 {
		h, err := readBERHeader(der)
		if err != nil {
			t.Fatal(err)
		}
		body := der[h.headerSize : h.headerSize+h.length]
		switch {
		case h.compound:
			out.Write(h.tag)
			out.WriteByte(0x80)
			out.Write(toIndefinite(t, body))
			out.Write([]byte{0, 0})
		case len(body) > 64 && ((h.class == 0 && h.number == 4) || (h.class == 2 && h.number == 0)):
			out.Write([]byte{h.tag[0] | 0x20, 0x80})
			for len(body) > 0 {
				n := min(64, len(body))
				out.WriteByte(0x04)
				writeDERLength(&out, n)
				out.Write(body[:n])
				body = body[n:]
			}
			out.Write([]byte{0, 0})
		default:
			out.Write(der[:h.headerSize+h.length])
		}
		der = der[h.headerSize+h.length:]
	}
	return out.Bytes()
}

func TestBERToDER(t *testing.T) {
	c, _ := chains(t)
	ber := toIndefinite(t, c.Leaf.Raw)
	der, err := berToDER(ber)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der, c.Leaf.Raw) {
		t.Fatal("BER round trip changed the encoding")
	}
	for _, bad := range [][]byte{{0x30}, {0x30, 0x80, 0x04, 0x01}, {0x04, 0x80}, {0x30, 0x85, 1, 1, 1, 1, 1}, append(ber, 0)} {
		if _, err := berToDER(bad); err == nil {
			t.Fatalf("berToDER(% x) succeeded", bad)
		}
	}
}
