package enroll

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"edgecert/internal/testtool"
)

// TestAPIOnPostgres runs submissions, approval, a refusal and concurrent
// load with the CA's database on PostgreSQL.
func TestAPIOnPostgres(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	t.Parallel()
	tc := newRealCAKey(t, "p256", dsn)
	ts := startServer(t, tc, Config{})

	st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "pg.contoso.com"), "template": tmplApproval})
	if st != http.StatusAccepted {
		t.Fatalf("pending: %d %s", st, body)
	}
	id := decodeNoT(body).RequestID
	if st, _ := ts.call(t, "GET", fmt.Sprintf("/api/v1/requests/%d", id), tc.tokBob, nil); st != http.StatusNotFound && st != http.StatusForbidden {
		t.Errorf("bob read alice's request: %d", st)
	}
	if st, body := ts.call(t, "POST", fmt.Sprintf("/api/v1/requests/%d/approve", id), tc.tokAdmin, nil); st != http.StatusOK {
		t.Fatalf("approve: %d %s", st, body)
	}
	before := tc.written(t)
	if st, _ := ts.call(t, "POST", "/api/v1/certificates", tc.tokCarol, map[string]string{"csr": newCSR(t, "c.contoso.com"), "template": tmplAuto}); st != http.StatusForbidden {
		t.Errorf("carol: %d", st)
	}
	if tc.written(t) != before {
		t.Errorf("a refused request was recorded")
	}

	const n = 64
	var mu sync.Mutex
	serials := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, fmt.Sprintf("pg%d.contoso.com", i)), "template": tmplAuto})
			if st != http.StatusCreated {
				t.Errorf("status %d: %s", st, body)
				return
			}
			mu.Lock()
			serials[decodeNoT(body).Serial] = true
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if len(serials) != n {
		t.Errorf("%d distinct serials for %d submissions", len(serials), n)
	}
}
