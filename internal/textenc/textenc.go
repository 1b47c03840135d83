// Package textenc turns the text files that Windows tools write into UTF-8:
// Notepad's UTF-8 with a byte order mark, and the UTF-16 with a byte order
// mark that Windows PowerShell's Out-File and Set-Content write.
package textenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ErrOddUTF16 is returned for UTF-16 text whose length is not a whole
// number of 16-bit units.
var ErrOddUTF16 = errors.New("UTF-16 text with an odd number of bytes")

// ToUTF8 returns data as UTF-8: a UTF-8 byte order mark is dropped, UTF-16
// with a byte order mark (little- or big-endian) is converted, and anything
// else is returned unchanged (the caller's parser judges it).
func ToUTF8(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, utf8BOM) {
		return data[len(utf8BOM):], nil
	}
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = binary.BigEndian
	default:
		return data, nil
	}
	data = data[2:]
	if len(data)%2 != 0 {
		return nil, ErrOddUTF16
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = order.Uint16(data[2*i:])
	}
	out := make([]byte, 0, len(units))
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}
