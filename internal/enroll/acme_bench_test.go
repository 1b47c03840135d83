package enroll

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/acmeserver"
	"edgecert/internal/testtool"
)

// BenchmarkACMEOrders runs complete ACME flows against the real server
// (P-256 issuing CA, SQLite): each flow is one account doing newOrder, the
// authorization, the http-01 challenge (validated by the CA against a
// loopback responder, the name through the test DNS server), finalize and
// the certificate download: five signed requests and one validation,
// nonces taken from the answers as clients do. It reports complete orders
// per second and the p50/p99 of one flow (docs/BENCHMARKS.md).
//
//	go test ./internal/enroll -run '^$' -bench BenchmarkACMEOrders -benchtime 2000x
//
// With EDGECERT_TEST_PG_DSN set, it runs on PostgreSQL as well.
func BenchmarkACMEOrders(b *testing.B) {
	dbs := []string{"sqlite"}
	if os.Getenv("EDGECERT_TEST_PG_DSN") != "" {
		dbs = append(dbs, "postgres")
	}
	for _, backend := range dbs {
		for _, flows := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("db=%s/flows=%d", backend, flows), func(b *testing.B) { benchACMEOrders(b, backend, flows) })
		}
	}
}

func benchACMEOrders(b *testing.B, backend string, flows int) {
	{
		{
			dsn := ""
			if backend == "postgres" {
				dsn = testtool.PostgresSchema(b)
			}
			e := newACMEEnvAt(b, nil, dsn)
			h := startHTTP01(b, e.httpPort)
			clients := make([]*rawACME, flows)
			for i := range clients {
				clients[i] = newRawACME(b, e)
				clients[i].hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 4
				clients[i].register(e, "alice")
			}
			var next atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						t0 := time.Now()
						if err := c.flow(h, fmt.Sprintf("b%d.contoso.test", n)); err != nil {
							b.Error(err)
							return
						}
						d := time.Since(t0)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			if len(lat) == 0 {
				return
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(len(lat))/el.Seconds(), "orders/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
	}
}

// flow runs one complete order for name.
func (c *rawACME) flow(h *http01Responder, name string) error {
	a := c.post(c.base+"new-order", map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": name}}})
	if a.status != http.StatusCreated {
		return fmt.Errorf("new order: %d %s", a.status, a.body)
	}
	var order struct {
		Authorizations []string
		Finalize       string
		Certificate    string
		Status         string
	}
	json.Unmarshal(a.body, &order)
	var authz struct {
		Challenges []struct{ Type, URL, Token string }
	}
	json.Unmarshal(c.post(order.Authorizations[0], nil).body, &authz)
	tp, _ := acmeserver.Thumbprint(&c.key.PublicKey)
	for _, ch := range authz.Challenges {
		if ch.Type == acmeserver.HTTP01 {
			h.mu.Lock()
			h.keys[ch.Token] = ch.Token + "." + tp
			h.mu.Unlock()
			if got := c.post(ch.URL, map[string]any{}); !strings.Contains(string(got.body), `"valid"`) {
				return fmt.Errorf("challenge: %d %s", got.status, got.body)
			}
		}
	}
	f := c.post(order.Finalize, map[string]string{"csr": csrFor(c.t, name)})
	json.Unmarshal(f.body, &order)
	if order.Status != "valid" {
		return fmt.Errorf("finalize: %d %s", f.status, f.body)
	}
	if d := c.post(order.Certificate, nil); d.status != http.StatusOK {
		return fmt.Errorf("download: %d %s", d.status, d.body)
	}
	return nil
}
