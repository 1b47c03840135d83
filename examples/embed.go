// Package examples holds the example topologies of the documentation, one
// file per scenario (see README.md), embedded so that the command line can
// run the bundled demo.yaml without any file on disk.
package examples

import "embed"

// FS holds every example topology (*.yaml) and the Topology Builder sample
// (*.tbxml).
//
//go:embed *.yaml *.tbxml
var FS embed.FS
