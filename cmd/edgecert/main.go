// Command edgecert plans, issues, installs, assigns and verifies the
// certificates of a Lync Server 2013 / Skype for Business edge deployment.
//
// All behaviour lives in internal/cli; main only wires the process streams in
// and exits with the code the CLI chose.
package main

import (
	"os"

	"edgecert/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.StdStreams()))
}
