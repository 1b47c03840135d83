// Package apply carries out a certificate plan on a workspace of server
// stores, in the order of the Lync Server 2013 procedures (R39, R43–R48,
// R57–R60): import the CA chain on every server, create each request on its
// plan's request_on server, have it issued (internal CA) or handed to a
// public CA through an outbox, copy the certificate with its key to the
// other members of the pool or farm as a password-protected PFX, assign the
// usages on every server, and verify.
//
// Every step first looks at the stores, which are the source of truth, so a
// run does only what is missing and never makes a second key for a
// certificate that already has one; a run interrupted at any point (even by
// kill -9) is finished by the next. A small journal (state.json) remembers
// what the stores cannot. The package also reports the status of a
// workspace ([Status]) and renews expiring certificates ([Renew]).
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"edgecert/internal/plan"
	"edgecert/internal/verify"
)

// ErrInvalidInput is wrapped by errors caused by the caller's input.
var ErrInvalidInput = errors.New("invalid input")

// Step names a step of the procedure.
type Step string

// Steps, in order.
const (
	StepChain    Step = "chain"
	StepRequest  Step = "request"
	StepIssue    Step = "issue"
	StepImport   Step = "import"
	StepTransfer Step = "transfer"
	StepAssign   Step = "assign"
	StepVerify   Step = "verify"
)

// Event statuses.
const (
	EventDone     = "done"
	EventSkipped  = "skipped" // already done by an earlier run
	EventWaiting  = "waiting"
	EventFailed   = "failed"
	EventPlanned  = "planned" // dry run
	EventPassword = "password"
	EventWarning  = "warning"
)

// Event is one line of progress.
type Event struct {
	Time        time.Time `json:"time"`
	Step        Step      `json:"step"`
	Certificate string    `json:"certificate,omitempty"`
	Server      string    `json:"server,omitempty"`
	Status      string    `json:"status"`
	Message     string    `json:"message,omitempty"`
}

// Options configure a run.
type Options struct {
	Now  func() time.Time
	Rand io.Reader
	// Issuer is the internal CA; nil skips the chain step and leaves
	// internal-issuer certificates waiting.
	Issuer Issuer
	// PublicCA, when set, issues the public certificates (ACME) instead of
	// the outbox.
	PublicCA PublicCA
	DryRun   bool
	// Progress receives every event (serialised); nil: none.
	Progress func(Event)
	// Concurrency bounds the certificates handled at once (default: CPUs + 1).
	Concurrency int
	// TransferPassword protects the PFX files written to the exchange
	// folder in server mode; empty: one is generated and reported in an
	// event with status "password".
	TransferPassword string
	// Certificates restricts the run to these plan ids (empty: all).
	Certificates []string
	// Verify configures the final verification; SkipVerify turns it off.
	Verify     verify.Options
	SkipVerify bool
	// Tracker, when set, learns the certificates of a run in plan order
	// before their steps start, and the end of each one's steps as it
	// happens (after its last event), so that progress can be shown in a
	// stable order with a count.
	Tracker Tracker
}

// Tracker follows the certificates of a run (Options.Tracker). Its
// methods are called serialised with Progress.
type Tracker interface {
	Start(ids []string)
	Finished(id string)
}

// Result summarises a run.
type Result struct {
	Done    []string          `json:"done"`
	Waiting map[string]string `json:"waiting"` // id -> why
	Failed  map[string]string `json:"failed"`  // id -> error
	Report  *verify.Report    `json:"report,omitempty"`
	// Renewals (renew) are the renewal decisions of the public
	// certificates from the ACME CA.
	Renewals map[string]*Renewal `json:"renewals,omitempty"`
}

// Complete reports whether every certificate is done and verified.
func (r *Result) Complete() bool {
	return len(r.Waiting) == 0 && len(r.Failed) == 0 && (r.Report == nil || !r.Report.Failed())
}

type runner struct {
	p       *plan.Plan
	w       *Workspace
	o       Options
	j       *journal
	release func() // the workspace's run lock
	evMu    sync.Mutex

	chainP7B []byte
	chainSum string
	// publicRoots are the ACME CA's trusted roots (.p7b), imported with
	// the chain on every server.
	publicRoots []byte
	chainMu     sync.Mutex
	chainOnce   map[string]*chainOnce

	v     *verify.Verifier
	repMu sync.Mutex
	rep   *verify.Report

	ari      *ariCache // renew: the renewal decisions of ACME certificates
	renewals sync.Map  // renew: plan id -> *Renewal of this run
}

func newRunner(p *plan.Plan, w *Workspace, o Options) (*runner, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Concurrency <= 0 {
		// Key generation keeps every CPU busy while other certificates
		// wait on disk or on the CA.
		o.Concurrency = 4*runtime.NumCPU() + 2
	}
	release := func() {}
	if !o.DryRun {
		var err error
		if release, err = w.exclusive(); err != nil {
			return nil, err
		}
	}
	j, err := openJournal(w.path("state.json"), o.Now)
	if err != nil {
		release()
		return nil, err
	}
	vo := o.Verify
	vo.Now = o.Now
	vo.PublicACME = vo.PublicACME || o.PublicCA != nil
	return &runner{p: p, w: w, o: o, j: j, release: release, chainOnce: map[string]*chainOnce{}, v: verify.NewVerifier(vo), rep: &verify.Report{}}, nil
}

func (r *runner) event(step Step, id, server, status, format string, args ...any) {
	if r.o.Progress == nil {
		return
	}
	r.evMu.Lock()
	defer r.evMu.Unlock()
	r.o.Progress(Event{Time: r.o.Now().UTC(), Step: step, Certificate: id, Server: server, Status: status, Message: fmt.Sprintf(format, args...)})
}

// finished tells the tracker that the steps of certificate id are over.
func (r *runner) finished(id string) {
	if r.o.Tracker == nil {
		return
	}
	r.evMu.Lock()
	defer r.evMu.Unlock()
	r.o.Tracker.Finished(id)
}

func (r *runner) selected() []*plan.Certificate {
	var out []*plan.Certificate
	for i := range r.p.Certificates {
		c := &r.p.Certificates[i]
		if len(r.o.Certificates) > 0 && !contains(r.o.Certificates, c.ID) {
			continue
		}
		if r.w.ServerMode() && !contains(c.Servers, r.w.only) {
			continue // nothing of this certificate lives on this machine
		}
		out = append(out, c)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Run carries out the plan on the workspace.
func Run(ctx context.Context, p *plan.Plan, w *Workspace, opts Options) (*Result, error) {
	r, err := newRunner(p, w, opts)
	if err != nil {
		return nil, err
	}
	defer r.release()
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	certs := r.selected()
	if r.o.DryRun {
		return r.dryRun(ctx, certs)
	}
	if err := r.prepareChain(ctx); err != nil {
		return nil, err
	}
	res := &Result{Waiting: map[string]string{}, Failed: map[string]string{}}
	type outcome struct {
		waiting string
		err     error
	}
	outs := make([]outcome, len(certs))
	if r.o.Tracker != nil {
		ids := make([]string, len(certs))
		for i, c := range certs {
			ids[i] = c.ID
		}
		r.evMu.Lock()
		r.o.Tracker.Start(ids)
		r.evMu.Unlock()
	}
	parallel(r.o.Concurrency, len(certs), func(i int) {
		defer r.finished(certs[i].ID)
		if outs[i].err = ctx.Err(); outs[i].err == nil {
			outs[i].waiting, outs[i].err = r.certificate(ctx, certs[i])
		}
		if outs[i].err == nil && outs[i].waiting == "" && !r.o.SkipVerify && ctx.Err() == nil {
			outs[i].err = r.verify(ctx, certs[i].ID)
		}
		if outs[i].err != nil {
			r.event(StepVerify, certs[i].ID, "", EventFailed, "%v", outs[i].err)
		}
	})
	for _, srv := range allServers(certs) { // servers that no step touched yet
		if err := r.ensureChain(srv); err != nil {
			return nil, err
		}
	}
	if err := r.j.save(); err != nil {
		return nil, err
	}
	var errs []error
	for i, c := range certs {
		switch {
		case outs[i].err != nil:
			res.Failed[c.ID] = outs[i].err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", c.ID, outs[i].err))
		case outs[i].waiting != "":
			res.Waiting[c.ID] = outs[i].waiting
		default:
			res.Done = append(res.Done, c.ID)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	if len(res.Done) > 0 && !r.o.SkipVerify {
		r.rep.Merge(&verify.Report{})
		res.Report = r.rep
	}
	return res, errors.Join(errs...)
}

// parallel calls f(0..n-1) with at most limit calls at a time.
func parallel(limit, n int, f func(i int)) {
	if limit < 1 {
		limit = 1
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// certificate runs steps 2–5 for one certificate. It returns a reason
// when the certificate has to wait (public CA, approval, another machine).
func (r *runner) certificate(ctx context.Context, c *plan.Certificate) (string, error) {
	cs := r.j.cert(c.ID, c.FriendlyName)
	var thumb, waiting string
	var err error
	if r.w.Local(c.RequestOn) {
		thumb, waiting, err = r.obtain(ctx, c, cs)
	} else if r.w.ServerMode() && contains(c.Servers, r.w.only) {
		thumb, waiting, err = r.fromExchange(c)
	} else {
		return "", nil // nothing of this certificate lives here
	}
	if err != nil || waiting != "" {
		if waiting != "" {
			r.j.set(c.ID, c.FriendlyName, func(s *CertState) { s.Waiting = waiting })
		}
		return waiting, err
	}
	if err := r.distribute(c, cs.FriendlyName, thumb); err != nil {
		return "", err
	}
	if err := r.assign(c, thumb); err != nil {
		return "", err
	}
	r.j.set(c.ID, c.FriendlyName, func(s *CertState) {
		s.Thumbprint, s.Waiting, s.Renewing = thumb, "", false
	})
	return "", nil
}

// verify is step 6 for one certificate: check it on every server and
// record it as verified. A failed check is not an error of the run: it is
// in the report (and the status shows it).
func (r *runner) verify(ctx context.Context, id string) error {
	rep, err := r.v.Offline(ctx, r.p, r.w.Store, []string{id})
	if err != nil {
		return err
	}
	r.repMu.Lock()
	r.rep.Checked += rep.Checked
	r.rep.Findings = append(r.rep.Findings, rep.Findings...)
	r.repMu.Unlock()
	for _, f := range rep.Findings {
		if f.Severity == verify.SeverityError {
			r.event(StepVerify, id, f.Server, EventFailed, "%s: %s", f.Rule, f.Message)
			return nil
		}
	}
	cs := r.j.cert(id, "")
	r.j.set(id, cs.FriendlyName, func(s *CertState) { s.Verified = s.Thumbprint })
	r.event(StepVerify, id, "", EventDone, "verified on every server")
	return nil
}
