package acmeserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// object reads a JSON object's members by their exact names, refusing
// duplicate names and anything after the object. encoding/json alone would
// match names case-insensitively and keep the last of duplicates, so two
// readers of one JWS could see different headers.
func object(what string, data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, NewProblem(Malformed, "%s: not a JSON object", what)
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, NewProblem(Malformed, "%s: not a JSON object", what)
		}
		name, _ := tok.(string)
		if _, dup := m[name]; dup {
			return nil, NewProblem(Malformed, "%s: member %q appears twice", what, name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, NewProblem(Malformed, "%s: not a JSON object", what)
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, NewProblem(Malformed, "%s: not a JSON object", what)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, NewProblem(Malformed, "%s: data after the JSON object", what)
	}
	return m, nil
}

// str reads member name of m as a string; present is false when it is
// absent. A member that is not a string is malformed.
func str(what string, m map[string]json.RawMessage, name string) (s string, present bool, err error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, NewProblem(Malformed, "%s: %q is not a string", what, name)
	}
	return s, true, nil
}

// only refuses members of m outside allowed.
func only(what string, m map[string]json.RawMessage, allowed ...string) error {
next:
	for name := range m {
		for _, a := range allowed {
			if name == a {
				continue next
			}
		}
		return NewProblem(Malformed, "%s: unexpected member %s", what, quoteShort(name))
	}
	return nil
}

// quoteShort quotes s for a message, cut at 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q…", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
