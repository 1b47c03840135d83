package enroll

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeSubmit: any body either decodes or gets a 400/413 with a
// message, never a panic or another status.
func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{`{"csr": "x", "template": "WebServer"}`, `{"csr": 1}`, `{`, ``, `[]`, `{"csr": "x"} {}`, `{"tempalte": ""}`, `null`} {
		f.Add(s)
	}
	s := &Server{cfg: Config{MaxBodyBytes: 4096}}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/certificates", strings.NewReader(body))
		var v submitRequest
		err := s.decodeJSON(httptest.NewRecorder(), r, &v)
		if err == nil {
			return
		}
		status, code, msg := classify(err)
		if (status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge) || code == "" || msg == "" {
			t.Fatalf("%q: %d %q %q", body, status, code, msg)
		}
	})
}

// FuzzParseSerial: a serial parses to a positive number or is a 400.
func FuzzParseSerial(f *testing.F) {
	for _, s := range []string{"01", "48F5:31:16", "0x7f", "", "-1", "zz", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSerial(s)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusBadRequest {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if n.Sign() <= 0 {
			t.Fatalf("%q gave %v", s, n)
		}
	})
}
