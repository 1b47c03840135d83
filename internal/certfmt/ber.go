package certfmt

import (
	"bytes"
	"errors"
	"fmt"
)

// BER to DER normalisation.
//
// Windows and some tools write PKCS#7 and PKCS#12 files in BER: indefinite
// lengths (0x80 … 00 00), non-minimal length octets and constructed
// (segmented) OCTET STRINGs. encoding/asn1 reads DER only, so berToDER
// rewrites a BER encoding into DER before it is parsed: lengths become
// definite and minimal, and constructed encodings of universal string types
// are joined into one primitive value. Implicitly tagged strings (such as the
// encryptedContent [0] of PKCS#7 EncryptedData) keep their constructed form,
// since their type is not visible here; see joinOctets.

// maxBERDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxBERDepth = 64

var errBER = errors.New("invalid BER encoding")

// berToDER converts exactly one BER value to DER; trailing bytes are refused.
func berToDER(in []byte) ([]byte, error) {
	var out bytes.Buffer
	n, err := berCopy(&out, in, 0)
	if err != nil {
		return nil, err
	}
	if n != len(in) {
		return nil, fmt.Errorf("%w: %d bytes of trailing data", errBER, len(in)-n)
	}
	return out.Bytes(), nil
}

// berHeader is a decoded tag and length.
type berHeader struct {
	tag        []byte // identifier octets, as read
	class      byte
	number     int
	compound   bool
	length     int // -1: indefinite
	headerSize int
}

// readBERHeader decodes the identifier and length octets at the start of in.
func readBERHeader(in []byte) (berHeader, error) {
	var h berHeader
	if len(in) < 2 {
		return h, fmt.Errorf("%w: truncated header", errBER)
	}
	i := 0
	b := in[i]
	i++
	h.class = b >> 6
	h.compound = b&0x20 != 0
	h.number = int(b & 0x1f)
	if h.number == 0x1f {
		h.number = 0
		for {
			if i >= len(in) || i > 5 {
				return h, fmt.Errorf("%w: bad tag", errBER)
			}
			c := in[i]
			i++
			h.number = h.number<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	h.tag = in[:i]
	if i >= len(in) {
		return h, fmt.Errorf("%w: truncated length", errBER)
	}
	l := in[i]
	i++
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.compound {
			return h, fmt.Errorf("%w: indefinite length on a primitive value", errBER)
		}
		h.length = -1
	default:
		n := int(l & 0x7f)
		if n > 4 || i+n > len(in) {
			return h, fmt.Errorf("%w: bad length", errBER)
		}
		for _, c := range in[i : i+n] {
			h.length = h.length<<8 | int(c)
		}
		i += n
		if h.length < 0 {
			return h, fmt.Errorf("%w: bad length", errBER)
		}
	}
	if h.length > len(in)-i {
		return h, fmt.Errorf("%w: length %d exceeds the %d bytes left (truncated file?)", errBER, h.length, len(in)-i)
	}
	h.headerSize = i
	return h, nil
}

// isUniversalString reports whether a universal tag number is a string type
// whose constructed BER form must become primitive in DER.
func isUniversalString(number int) bool {
	switch number {
	case 3, 4, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30:
		return true
	}
	return false
}

// berCopy writes the DER form of the value at the start of in to out and
// returns how many input bytes it used.
func berCopy(out *bytes.Buffer, in []byte, depth int) (int, error) {
	if depth > maxBERDepth {
		return 0, fmt.Errorf("%w: nested too deeply", errBER)
	}
	h, err := readBERHeader(in)
	if err != nil {
		return 0, err
	}
	if !h.compound {
		out.Write(h.tag)
		writeDERLength(out, h.length)
		out.Write(in[h.headerSize : h.headerSize+h.length])
		return h.headerSize + h.length, nil
	}
	var body bytes.Buffer
	used, err := berChildren(&body, in[h.headerSize:], h.length, depth)
	if err != nil {
		return 0, err
	}
	content := body.Bytes()
	tag := h.tag
	if h.class == 0 && isUniversalString(h.number) {
		content, err = joinSegments(content, h.number == 3)
		if err != nil {
			return 0, err
		}
		tag = []byte{h.tag[0] &^ 0x20}
	}
	out.Write(tag)
	writeDERLength(out, len(content))
	out.Write(content)
	return h.headerSize + used, nil
}

// berChildren converts the children of a constructed value (length -1:
// indefinite, ended by 00 00) and returns the input bytes consumed,
// end-of-contents included.
func berChildren(out *bytes.Buffer, in []byte, length, depth int) (int, error) {
	if length >= 0 {
		in = in[:length]
	}
	off := 0
	for {
		if length >= 0 && off == length {
			return off, nil
		}
		if length < 0 && off+2 <= len(in) && in[off] == 0 && in[off+1] == 0 {
			return off + 2, nil
		}
		if off >= len(in) {
			return 0, fmt.Errorf("%w: truncated constructed value", errBER)
		}
		n, err := berCopy(out, in[off:], depth+1)
		if err != nil {
			return 0, err
		}
		off += n
	}
}

// joinSegments concatenates the (already DER) primitive segments of a
// constructed string. For a BIT STRING only the last segment may have
// unused bits.
func joinSegments(der []byte, bitString bool) ([]byte, error) {
	var joined []byte
	unused := byte(0)
	for len(der) > 0 {
		h, err := readBERHeader(der)
		if err != nil {
			return nil, err
		}
		seg := der[h.headerSize : h.headerSize+h.length]
		der = der[h.headerSize+h.length:]
		if bitString {
			if len(seg) == 0 || unused != 0 {
				return nil, fmt.Errorf("%w: bad BIT STRING segment", errBER)
			}
			unused, seg = seg[0], seg[1:]
		}
		joined = append(joined, seg...)
	}
	if bitString {
		joined = append([]byte{unused}, joined...)
	}
	return joined, nil
}

// writeDERLength writes a minimal definite length.
func writeDERLength(out *bytes.Buffer, n int) {
	if n < 0x80 {
		out.WriteByte(byte(n))
		return
	}
	var b []byte
	for v := n; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	out.WriteByte(0x80 | byte(len(b)))
	out.Write(b)
}
