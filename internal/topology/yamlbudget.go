package topology

// maxYAMLNodes bounds yamlNodeBound for a YAML document: yaml.v3 builds
// the whole tree before anything can be counted (some 70 bytes of memory
// per byte of a dense document), so the document's size in nodes is
// estimated from its text first. A real topology is some hundreds of
// nodes (a hundred servers some thousands); the bound keeps the tree
// within about 150 MB.
const maxYAMLNodes = 200_000

// yamlNodeBound returns, without parsing, a number at least the count of
// nodes yaml.v3 builds for data: the document, then every node starts at
// a run of text (a scalar, or the mapping its first key opens: two) or at
// an indicator (- : ? , [ ] { }: a collection with an empty key and an
// empty value, three). Quoted text and comments make it larger, never
// smaller (FuzzYAMLNodeBound checks it against yaml.v3).
func yamlNodeBound(data []byte) int {
	n, inRun := 2, false
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			inRun = false
		case '-', ':', '?', ',', '[', ']', '{', '}':
			inRun = false
			n += 3
		default:
			if !inRun {
				n += 2
				inRun = true
			}
		}
	}
	return n
}
