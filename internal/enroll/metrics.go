package enroll

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgecert/internal/ca"
)

// latencyBuckets are the upper bounds (seconds) of the issuance latency histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics are lock-free counters on the request path; the text exposition
// is written by hand at scrape time.
type metrics struct {
	counts sync.Map // routeStatus -> *atomic.Uint64

	issue  *histogram    // the engine's answer to a submission
	stages [3]*histogram // its parts: stageNames
}

// stageNames label the parts of a submission (ca.Timing).
var stageNames = [3]string{"queue", "work", "record"}

// histogram is a lock-free Prometheus histogram over latencyBuckets.
type histogram struct {
	buckets []atomic.Uint64 // per bucket here, cumulative at scrape
	count   atomic.Uint64
	sumNs   atomic.Uint64
}

func newHistogram() *histogram {
	return &histogram{buckets: make([]atomic.Uint64, len(latencyBuckets)+1)}
}

func (h *histogram) observe(d time.Duration) {
	h.buckets[sort.SearchFloat64s(latencyBuckets, d.Seconds())].Add(1)
	h.count.Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

// write writes the series of name; labels (`k="v",` each) go before le.
func (h *histogram) write(w *bufio.Writer, name, labels string) {
	var cum uint64
	for i, le := range latencyBuckets {
		cum += h.buckets[i].Load()
		fmt.Fprintf(w, "%s_bucket{%sle=%q} %d\n", name, labels, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += h.buckets[len(latencyBuckets)].Load()
	fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", name, labels, cum)
	sel := ""
	if labels != "" {
		sel = "{" + strings.TrimSuffix(labels, ",") + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %g\n", name, sel, float64(h.sumNs.Load())/1e9)
	fmt.Fprintf(w, "%s_count%s %d\n", name, sel, h.count.Load())
}

type routeStatus struct {
	route  string
	status int
}

func newMetrics() *metrics {
	m := &metrics{issue: newHistogram()}
	for i := range m.stages {
		m.stages[i] = newHistogram()
	}
	return m
}

func (m *metrics) count(route string, status int) {
	k := routeStatus{route, status}
	v, ok := m.counts.Load(k)
	if !ok {
		v, _ = m.counts.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// observeSubmit records the engine time of one submission and, when it
// was answered, the time of each of its parts.
func (m *metrics) observeSubmit(d time.Duration, res *ca.Result) {
	m.issue.observe(d)
	if res != nil {
		for i, part := range [3]time.Duration{res.Timing.Queue, res.Timing.Work, res.Timing.Record} {
			m.stages[i].observe(part)
		}
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handle registers h under pattern, counting its answers under route.
func (s *Server) handle(mux *http.ServeMux, pattern, route string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.met.count(route, sw.status)
	})
}

// handleMetrics writes the Prometheus text exposition format.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	s.writeRequestCounts(bw)
	s.writeIssueHistogram(bw)
	s.writeGauges(r.Context(), bw)
	if s.cfg.ACME != nil {
		s.writeACMECounts(bw)
	}
	return nil
}

func (s *Server) writeRequestCounts(w *bufio.Writer) {
	type row struct {
		k routeStatus
		n uint64
	}
	var rows []row
	s.met.counts.Range(func(k, v any) bool {
		rows = append(rows, row{k.(routeStatus), v.(*atomic.Uint64).Load()})
		return true
	})
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].k.route != rows[j].k.route {
			return rows[i].k.route < rows[j].k.route
		}
		return rows[i].k.status < rows[j].k.status
	})
	fmt.Fprintln(w, "# HELP edgecert_http_requests_total HTTP requests answered, by route and status.")
	fmt.Fprintln(w, "# TYPE edgecert_http_requests_total counter")
	for _, r := range rows {
		fmt.Fprintf(w, "edgecert_http_requests_total{route=%q,status=\"%d\"} %d\n", r.k.route, r.k.status, r.n)
	}
}

func (s *Server) writeIssueHistogram(w *bufio.Writer) {
	fmt.Fprintln(w, "# HELP edgecert_issuance_duration_seconds Time the CA took to answer a submission (issue or queue).")
	fmt.Fprintln(w, "# TYPE edgecert_issuance_duration_seconds histogram")
	s.met.issue.write(w, "edgecert_issuance_duration_seconds", "")
	fmt.Fprintln(w, "# HELP edgecert_issuance_stage_seconds Parts of an answered submission: waiting for a worker (queue), parsing, checking, linting and signing (work), waiting for the database round that records it (record).")
	fmt.Fprintln(w, "# TYPE edgecert_issuance_stage_seconds histogram")
	for i, name := range stageNames {
		s.met.stages[i].write(w, "edgecert_issuance_stage_seconds", fmt.Sprintf("stage=%q,", name))
	}
}

func (s *Server) writeGauges(ctx context.Context, w *bufio.Writer) {
	fmt.Fprintln(w, "# HELP edgecert_pending_requests Requests waiting for approval.")
	fmt.Fprintln(w, "# TYPE edgecert_pending_requests gauge")
	if n, err := s.eng.PendingCount(ctx); err == nil {
		fmt.Fprintf(w, "edgecert_pending_requests %d\n", n)
	} else {
		fmt.Fprintln(w, "edgecert_pending_requests NaN")
	}
	fmt.Fprintln(w, "# HELP edgecert_crl_age_seconds Age of the current CRL (now minus its thisUpdate).")
	fmt.Fprintln(w, "# TYPE edgecert_crl_age_seconds gauge")
	now := s.now()
	for _, kind := range []struct {
		name  string
		delta bool
	}{{"full", false}, {"delta", true}} {
		age := math.NaN()
		if e, err := s.pub.crl(ctx, kind.delta); err == nil && !e.this.IsZero() {
			age = now.Sub(e.this).Seconds()
		}
		fmt.Fprintf(w, "edgecert_crl_age_seconds{crl=%q} %g\n", kind.name, age)
	}
	fmt.Fprintln(w, "# HELP edgecert_build_info The server's build: Go version and the implementation of its cryptography (go or boringcrypto).")
	fmt.Fprintln(w, "# TYPE edgecert_build_info gauge")
	fmt.Fprintf(w, "edgecert_build_info{go=%q,crypto=%q} 1\n", runtime.Version(), cryptoImpl())
	fmt.Fprintln(w, "# HELP edgecert_uptime_seconds Time since the server started.")
	fmt.Fprintln(w, "# TYPE edgecert_uptime_seconds gauge")
	fmt.Fprintf(w, "edgecert_uptime_seconds %g\n", now.Sub(s.started).Seconds())
}
