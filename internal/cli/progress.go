package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"edgecert/internal/apply"
)

// stepOrder sorts the events of one certificate into the procedure's order.
var stepOrder = map[apply.Step]int{apply.StepChain: 0, apply.StepRequest: 1, apply.StepIssue: 2, apply.StepImport: 3,
	apply.StepTransfer: 4, apply.StepAssign: 5, apply.StepVerify: 6}

// runProgress shows a long apply or renew on standard error in an order
// that does not depend on which certificate finishes first: the events of
// each certificate as one block under an "[n/N] id" line, in plan order,
// as soon as it and those before it are done; the CA chain imports, which
// belong to servers, sorted at the end. On a terminal a progress bar with
// the count of finished certificates stays on the last line meanwhile.
// It is an apply.Tracker; its methods are called serialised.
type runProgress struct {
	w        io.Writer
	tty      bool
	width    int
	order    []string
	index    map[string]int
	blocks   [][]apply.Event
	done     []bool
	next     int // first certificate whose block is not printed
	finished int
	servers  []apply.Event // events without a certificate
	bar      bool          // a bar is on the last line
}

func newRunProgress(w io.Writer, tty bool) *runProgress {
	return &runProgress{w: w, tty: tty, width: 30}
}

// Start is called with the certificates of the run, in plan order.
func (p *runProgress) Start(ids []string) {
	p.order, p.index = ids, make(map[string]int, len(ids))
	p.blocks, p.done, p.next, p.finished = make([][]apply.Event, len(ids)), make([]bool, len(ids)), 0, 0
	for i, id := range ids {
		p.index[id] = i
	}
	p.drawBar()
}

// Event files e under its certificate, or prints it at once when the run
// has not started (renew's choice of what is due, in plan order).
func (p *runProgress) Event(e apply.Event) {
	if e.Status == apply.EventSkipped && e.Step == apply.StepChain && !p.tty {
		return
	}
	if i, ok := p.index[e.Certificate]; ok && e.Certificate != "" && !p.done[i] {
		p.blocks[i] = append(p.blocks[i], e)
		return
	}
	if e.Certificate == "" && p.order != nil {
		p.servers = append(p.servers, e)
		return
	}
	p.clearBar()
	fmt.Fprintln(p.w, apply.FormatEvent(e))
	p.drawBar()
}

// Finished prints every block that is now complete in plan order.
func (p *runProgress) Finished(id string) {
	i, ok := p.index[id]
	if !ok || p.done[i] {
		return
	}
	p.done[i] = true
	p.finished++
	p.clearBar()
	for p.next < len(p.order) && p.done[p.next] {
		n := p.next
		block := p.blocks[n]
		sort.SliceStable(block, func(a, b int) bool {
			if stepOrder[block[a].Step] != stepOrder[block[b].Step] {
				return stepOrder[block[a].Step] < stepOrder[block[b].Step]
			}
			return block[a].Server < block[b].Server
		})
		fmt.Fprintf(p.w, "[%d/%d] %s\n", n+1, len(p.order), p.order[n])
		for _, e := range block {
			fmt.Fprintln(p.w, "  "+apply.FormatEvent(e))
		}
		p.blocks[n] = nil
		p.next++
	}
	p.drawBar()
}

// End prints the servers' events, sorted, and takes the bar away.
func (p *runProgress) End() {
	p.clearBar()
	sort.SliceStable(p.servers, func(a, b int) bool {
		if p.servers[a].Server != p.servers[b].Server {
			return p.servers[a].Server < p.servers[b].Server
		}
		return stepOrder[p.servers[a].Step] < stepOrder[p.servers[b].Step]
	})
	for _, e := range p.servers {
		fmt.Fprintln(p.w, apply.FormatEvent(e))
	}
	p.servers = nil
}

func (p *runProgress) drawBar() {
	if !p.tty || len(p.order) == 0 {
		return
	}
	filled := p.finished * p.width / len(p.order)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d certificates", strings.Repeat("#", filled), strings.Repeat(".", p.width-filled), p.finished, len(p.order))
	p.bar = true
}

func (p *runProgress) clearBar() {
	if p.bar {
		fmt.Fprint(p.w, "\r\033[K")
		p.bar = false
	}
}
