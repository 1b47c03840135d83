package topology

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"edgecert/internal/textenc"
)

// Limits that keep a hostile document from exhausting memory or the stack.
const (
	maxXMLDepth = 256
	// maxXMLElements: a Topology Builder document of a real deployment has
	// some hundreds of elements (examples/contoso-sfb.tbxml 238); a million
	// took 340 MB and 3 s before any of it was refused.
	maxXMLElements = 100_000
)

// xnode is one element of a Topology Builder document, with its position.
// Names are local names: the document's namespaces (Topology.2008,
// WritableTopology.2008, ServiceRoles.2008, …) are not needed to tell the
// elements apart, and vary between versions.
type xnode struct {
	name  string
	attrs []xml.Attr
	kids  []*xnode
	text  strings.Builder
	p     Pos
}

func (n *xnode) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n *xnode) child(local string) *xnode {
	for _, k := range n.kids {
		if k.name == local {
			return k
		}
	}
	return nil
}

func (n *xnode) children(local string) []*xnode {
	var out []*xnode
	for _, k := range n.kids {
		if k.name == local {
			out = append(out, k)
		}
	}
	return out
}

// find returns the first element named local in document order, n included.
func (n *xnode) find(local string) *xnode {
	if n.name == local {
		return n
	}
	for _, k := range n.kids {
		if f := k.find(local); f != nil {
			return f
		}
	}
	return nil
}

// parseXML reads the whole document into xnodes. It handles the UTF-8 byte
// order mark that Topology Builder writes and UTF-16 (what PowerShell's
// Out-File writes by default).
func parseXML(file string, data []byte) (*xnode, *Problem) {
	data, err := textenc.ToUTF8(data)
	if err != nil {
		return nil, &Problem{Pos: Pos{File: file, Line: 1, Col: 1}, Rule: "syntax", Msg: "XML: " + err.Error(), Fix: "save the document as UTF-8 or UTF-16 with a byte order mark"}
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-16be", "unicode", "us-ascii", "ascii":
			return r, nil // already converted to UTF-8 by textenc.ToUTF8
		}
		return nil, errors.New("unsupported encoding " + label + " (save the document as UTF-8)")
	}
	var root *xnode
	var stack []*xnode
	count := 0
	for {
		line, col := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, xmlProblem(file, dec, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if count++; count > maxXMLElements {
				return nil, &Problem{Pos: Pos{File: file, Line: line, Col: col}, Rule: "syntax", Msg: fmt.Sprintf("file too large: more than %d elements, a Topology Builder document has at most %d", maxXMLElements, maxXMLElements), Fix: "give the Topology Builder document of one deployment (a real one is far smaller)"}
			}
			if len(stack) >= maxXMLDepth {
				return nil, &Problem{Pos: Pos{File: file, Line: line, Col: col}, Rule: "syntax", Msg: "the document nests too deeply", Fix: "give a Topology Builder document"}
			}
			n := &xnode{name: t.Name.Local, attrs: t.Attr, p: Pos{File: file, Line: line, Col: col}}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			} else if root == nil {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1].text.Len() < 4096 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, &Problem{Pos: Pos{File: file, Line: 1, Col: 1}, Rule: "syntax", Msg: "the document has no XML element", Fix: "give a Topology Builder document (.tbxml) or the output of Get-CsTopology -AsXml"}
	}
	return root, nil
}

func xmlProblem(file string, dec *xml.Decoder, err error) *Problem {
	line, col := dec.InputPos()
	var se *xml.SyntaxError
	msg := err.Error()
	if errors.As(err, &se) {
		msg = se.Msg
		if se.Line != line {
			line, col = se.Line, 1
		}
	}
	return &Problem{Pos: Pos{File: file, Line: line, Col: col}, Rule: "syntax", Msg: "XML: " + msg, Fix: "give a well-formed Topology Builder document"}
}
