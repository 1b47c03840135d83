package enroll

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The answer to a submission is written thousands of times a second and is
// mostly PEM (the certificate and the CA chain), so it is encoded here
// rather than by reflection: the CA chain's JSON is encoded once, and PEM
// text needs no escaping but its line ends. The output is byte for byte
// what encoding/json writes for requestView
// (TestViewJSONMatchesEncodingJSON, FuzzViewJSON).

// writeView writes v as the JSON answer with status.
func (s *Server) writeView(w http.ResponseWriter, status int, v requestView) {
	buf := jsonBufs.Get().(*bytes.Buffer)
	defer putJSONBuf(buf)
	buf.Reset()
	buf.Write(s.appendView(buf.AvailableBuffer(), v))
	buf.WriteByte('\n')
	sendJSON(w, status, buf.Bytes())
}

// appendView appends the JSON object of v to b.
func (s *Server) appendView(b []byte, v requestView) []byte {
	b = append(b, `{"request_id":`...)
	b = strconv.AppendInt(b, v.RequestID, 10)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(v.Status))
	b = appendField(b, `,"requester":`, v.Requester)
	b = appendField(b, `,"template":`, v.Template)
	b = appendField(b, `,"subject":`, v.Subject)
	if len(v.SANs) > 0 {
		b = appendJSONStrings(append(b, `,"sans":`...), v.SANs)
	}
	if !v.Submitted.IsZero() { // as time.Time.MarshalJSON (the database's times are in its years)
		b = append(b, `,"submitted":"`...)
		b = v.Submitted.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendField(b, `,"serial":`, v.Serial)
	b = appendField(b, `,"reason":`, v.Reason)
	b = appendField(b, `,"key":`, v.Key)
	b = appendField(b, `,"certificate":`, v.Certificate)
	if len(v.Chain) > 0 {
		b = append(b, `,"chain":`...)
		if s.pub != nil && s.pub.chainJSON != nil && slices.Equal(v.Chain, s.pub.chainStr) { // equal strings share their bytes: a pointer compare
			b = append(b, s.pub.chainJSON...)
		} else {
			b = appendJSONStrings(b, v.Chain)
		}
	}
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendJSONString(append(b, name...), value)
}

func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string. Printable ASCII other than
// the characters encoding/json escapes (" \ < > &) and line feeds take the
// fast path; anything else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\n' && (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		b = append(b, s[:i]...)
		b = append(b, `\n`...)
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}
