package textenc

import (
	"bytes"
	"errors"
	"testing"
)

func TestToUTF8(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{name: "plain UTF-8", in: []byte("{\"a\":\"é\"}"), want: "{\"a\":\"é\"}"},
		{name: "UTF-8 with BOM (Notepad)", in: []byte("\xEF\xBB\xBF{}"), want: "{}"},
		{name: "UTF-16LE with BOM (Out-File)", in: []byte{0xFF, 0xFE, '{', 0, 0xE9, 0, '}', 0}, want: "{é}"},
		{name: "UTF-16BE with BOM", in: []byte{0xFE, 0xFF, 0, '{', 0, '}'}, want: "{}"},
		{name: "UTF-16LE surrogate pair", in: []byte{0xFF, 0xFE, 0x3D, 0xD8, 0x00, 0xDE}, want: "\U0001F600"},
		{name: "UTF-16 odd length", in: []byte{0xFF, 0xFE, '{'}, err: ErrOddUTF16},
		{name: "empty", in: nil, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ToUTF8(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && !bytes.Equal(got, []byte(tc.want)) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
