package enroll

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestNotYoursLooksLikeNotThere: another user's request id and an id that
// does not exist get the same answer, id aside, in the API and the pages,
// so that request ids tell nothing about other users' requests.
func TestNotYoursLooksLikeNotThere(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	_, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "mine.contoso.com"), "template": tmplAuto})
	id := decodeNoT(body).RequestID
	if id == 0 {
		t.Fatalf("submit: %s", body)
	}
	const missing = 99999
	same := func(t *testing.T, what string, yoursSt, missingSt int, yours, notThere string) {
		t.Helper()
		yours = strings.ReplaceAll(yours, fmt.Sprintf("request %d", id), "request N")
		notThere = strings.ReplaceAll(notThere, fmt.Sprintf("request %d", missing), "request N")
		if yoursSt != missingSt || yours != notThere {
			t.Errorf("%s: another's request answers %d %q, a missing one %d %q", what, yoursSt, yours, missingSt, notThere)
		}
		if strings.Contains(yours, "mine.contoso.com") {
			t.Errorf("%s: the answer shows the subject", what)
		}
	}
	for _, p := range []string{"/api/v1/requests/%d", "/api/v1/requests/%d/approve"} {
		method := "GET"
		if strings.HasSuffix(p, "approve") {
			method = "POST"
		}
		st1, b1 := ts.call(t, method, fmt.Sprintf(p, id), tc.tokBob, nil)
		st2, b2 := ts.call(t, method, fmt.Sprintf(p, missing), tc.tokBob, nil)
		if method == "GET" && (st1 != http.StatusNotFound || !strings.Contains(string(b1), fmt.Sprintf(`"request %d not found"`, id))) {
			t.Errorf("GET another's request: %d %s", st1, b1)
		}
		same(t, method+" "+p, st1, st2, string(b1), string(b2))
	}
	ts.signIn(t, "bob", tc.passBob)
	for _, p := range []string{"/certsrv/requests/%d", "/certsrv/requests/%d/certnew.cer"} {
		get := func(n int64) (int, string) {
			resp, err := ts.client.Get(ts.url + fmt.Sprintf(p, n))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		st1, b1 := get(id)
		st2, b2 := get(missing)
		same(t, p, st1, st2, b1, b2)
	}
}
