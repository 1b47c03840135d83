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
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the issuance latency histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics are lock-free counters on the request path; the text exposition
// is written by hand at scrape time.
type metrics struct {
	counts sync.Map // routeStatus -> *atomic.Uint64

	issueBuckets []atomic.Uint64 // cumulative at scrape, per bucket here
	issueCount   atomic.Uint64
	issueSumNs   atomic.Uint64
}

type routeStatus struct {
	route  string
	status int
}

func newMetrics() *metrics {
	return &metrics{issueBuckets: make([]atomic.Uint64, len(latencyBuckets)+1)}
}

func (m *metrics) count(route string, status int) {
	k := routeStatus{route, status}
	v, ok := m.counts.Load(k)
	if !ok {
		v, _ = m.counts.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// observeIssue records the engine time of one submission.
func (m *metrics) observeIssue(d time.Duration) {
	sec := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, sec)
	m.issueBuckets[i].Add(1)
	m.issueCount.Add(1)
	m.issueSumNs.Add(uint64(d))
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
	var cum uint64
	for i, le := range latencyBuckets {
		cum += s.met.issueBuckets[i].Load()
		fmt.Fprintf(w, "edgecert_issuance_duration_seconds_bucket{le=%q} %d\n", strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += s.met.issueBuckets[len(latencyBuckets)].Load()
	fmt.Fprintf(w, "edgecert_issuance_duration_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(w, "edgecert_issuance_duration_seconds_sum %g\n", float64(s.met.issueSumNs.Load())/1e9)
	fmt.Fprintf(w, "edgecert_issuance_duration_seconds_count %d\n", s.met.issueCount.Load())
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
