package topology

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every error that reports an invalid topology
// (a [Problems] value); callers test for it with errors.Is.
var ErrInvalid = errors.New("invalid topology")

// Problem is one violation found while loading a topology.
type Problem struct {
	Pos  Pos
	Rule string // rule id of docs/rules.md or topology.md, e.g. "R83", "unknown-key"
	Msg  string // what is wrong
	Fix  string // what to change
}

// String formats the problem as "file:line:col: [rule] msg; fix".
func (p Problem) String() string {
	var b strings.Builder
	if p.Pos.File != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", p.Pos.File, p.Pos.Line, p.Pos.Col)
	}
	if p.Rule != "" {
		fmt.Fprintf(&b, "[%s] ", p.Rule)
	}
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Problems is every violation of one load, in file order. It is an error
// that matches [ErrInvalid].
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("invalid topology: %d problem(s):\n%s", len(ps), strings.Join(lines, "\n"))
}

// Is reports that Problems matches ErrInvalid.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }
