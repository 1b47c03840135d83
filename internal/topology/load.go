package topology

import (
	"bytes"
	"fmt"

	"edgecert/internal/readlimit"
)

// Load reads the topology in path, a YAML topology or a Topology Builder
// document (.tbxml or the output of Get-CsTopology -AsXml), detected by its
// content, and, when overlayPath is not empty, the YAML overlay that adds
// what the document lacks. An invalid topology gives a [Problems] error
// (matching [ErrInvalid]) that lists every problem; a file that cannot be
// read gives the underlying error.
func Load(path, overlayPath string) (*Topology, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var overlay []byte
	if overlayPath != "" {
		if overlay, err = readFile(overlayPath); err != nil {
			return nil, err
		}
	}
	return ParseWithOverlay(path, data, overlayPath, overlay)
}

func readFile(path string) ([]byte, error) {
	data, err := readlimit.File(path, readlimit.TopologyFile)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return data, nil
}

// Parse reads one topology document, YAML or Topology Builder XML (detected
// by content); name is the file name used in problem positions.
func Parse(name string, data []byte) (*Topology, error) {
	return ParseWithOverlay(name, data, "", nil)
}

// ParseWithOverlay is [Parse] with an optional YAML overlay (nil for none)
// whose settings are merged before validation.
func ParseWithOverlay(name string, data []byte, overlayName string, overlay []byte) (*Topology, error) {
	if IsXML(data) {
		return ParseXML(name, data, overlay, overlayName)
	}
	c := &collector{}
	return finish(c, decodeYAML(name, data, false, c), name, overlay, overlayName)
}

// ParseYAML reads a YAML topology, version 1.
func ParseYAML(name string, data []byte) (*Topology, error) {
	c := &collector{}
	return finish(c, decodeYAML(name, data, false, c), name, nil, "")
}

// ParseXML reads a Topology Builder document and an optional YAML overlay
// (nil for none).
func ParseXML(name string, data []byte, overlay []byte, overlayName string) (*Topology, error) {
	c := &collector{}
	return finish(c, decodeXML(name, data, c), name, overlay, overlayName)
}

// finish merges the overlay, validates the result and builds the topology.
// The overlay is read even when the document could not be, so that its own
// problems are reported in the same run.
func finish(c *collector, r *rawTopo, name string, overlay []byte, overlayName string) (*Topology, error) {
	if overlay != nil {
		if overlayName == "" {
			overlayName = "overlay"
		}
		if ov := decodeYAML(overlayName, overlay, true, c); ov != nil && r != nil {
			mergeOverlay(r, ov, c)
		}
	} else {
		overlayName = ""
	}
	if r != nil {
		defaultSimpleURLs(r, c)
		validate(r, c)
	}
	if len(c.ps) > 0 {
		return nil, c.sorted()
	}
	t := build(r, name, overlayName)
	t.Warnings = c.warnings
	return t, nil
}

// IsXML reports whether data is an XML document (possibly UTF-16 or with a
// byte order mark) rather than YAML.
func IsXML(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return true
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '<'
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}
