package enroll

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// viewServer is a Server with a cached chain, as newPublications makes it.
func viewServer(chain []string) *Server {
	return &Server{pub: &publications{chainStr: chain, chainJSON: appendJSONStrings(nil, chain)}}
}

func checkView(t *testing.T, s *Server, v requestView) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.appendView(nil, v); !bytes.Equal(got, want) {
		t.Fatalf("appendView:\n got %s\nwant %s", got, want)
	}
}

func TestViewJSONMatchesEncodingJSON(t *testing.T) {
	pemText := "-----BEGIN CERTIFICATE-----\nMIIB+zCCAaGgAwIBAgIU/Q==\n-----END CERTIFICATE-----\n"
	chain := []string{pemText, pemText + "x"}
	s := viewServer(chain)
	when := time.Date(2026, 12, 6, 8, 30, 1, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		v    requestView
	}{
		{"empty", requestView{}},
		{"issued", requestView{RequestID: 42, Status: ca.StatusIssued, Requester: "alice", Template: "WebServer",
			Subject: "CN=edge.contoso.com,O=Contoso", SANs: []string{"edge.contoso.com", "10.0.0.5"}, Submitted: when, Serial: "1A2B", Certificate: pemText, Chain: chain}},
		{"pending", requestView{RequestID: 7, Status: ca.StatusPending, Submitted: when.In(time.FixedZone("x", 3600))}},
		{"pending with names and key", requestView{RequestID: 8, Status: ca.StatusPending, SANs: []string{"sip.contoso.com", "10.0.0.1", `a"<b>`}, Key: "ECDSA P-256"}},
		{"empty names", requestView{RequestID: 8, SANs: []string{}}},
		{"denied with reason", requestView{RequestID: 9, Status: ca.StatusDenied, Reason: `said "no" <b>& left</b>`}},
		{"another chain", requestView{RequestID: 1, Chain: []string{"a\nb", "c"}}},
		{"same chain, other strings", requestView{RequestID: 1, Chain: []string{pemText, pemText + "y"}}},
		{"unicode subject", requestView{Subject: "CN=Zürich 東京 \u2028\u2029", Requester: "tab\there"}},
		{"control and DEL", requestView{Subject: "a\x00b\x1fc\x7fd\re"}},
		{"invalid UTF-8", requestView{Subject: "bad \xff\xfe byte"}},
		{"negative id", requestView{RequestID: -5}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkView(t, s, tc.v) })
	}
}

func FuzzViewJSON(f *testing.F) {
	f.Add(int64(1), "issued", "alice", "CN=x", "-----BEGIN X-----\nAA==\n-----END X-----\n", "1F", int64(1700000000))
	f.Add(int64(-1), "", "\u2028", "<&>", "\xff", "\"\\", int64(0))
	s := viewServer([]string{"c1\n", "c2\n"})
	f.Fuzz(func(t *testing.T, id int64, status, requester, subject, cert, serial string, unix int64) {
		v := requestView{RequestID: id, Status: ca.Status(status), Requester: requester, Subject: subject, SANs: []string{subject, serial},
			Certificate: cert, Serial: serial, Reason: subject + cert, Chain: []string{cert, serial}, Key: serial}
		if u := unix % 253402300799; u > 0 { // years 1970-9999, as the database's
			v.Submitted = time.Unix(u, 0).UTC()
		}
		checkView(t, s, v)
		v.Chain = s.pub.chainStr
		checkView(t, s, v)
	})
}
