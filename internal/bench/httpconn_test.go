package bench

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestReadAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		status    int
		body      string
		keep      bool
		err       string
		restAfter string // what the reader still holds afterwards
	}{
		{name: "content length", in: "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhelloNEXT", status: 201, body: "hello", keep: true, restAfter: "NEXT"},
		{name: "chunked with extension and trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT", status: 200, body: "abcde", keep: true, restAfter: "NEXT"},
		{name: "header names in any case", in: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nCONNECTION: close\r\n\r\nok", status: 200, body: "ok", keep: false},
		{name: "LF line ends", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", status: 200, body: "ok", keep: true},
		{name: "HTTP/1.0 to the end", in: "HTTP/1.0 200 OK\r\n\r\nall of it", status: 200, body: "all of it", keep: false},
		{name: "no content", in: "HTTP/1.1 204 No Content\r\n\r\nNEXT", status: 204, keep: true, restAfter: "NEXT"},
		{name: "error status keeps its body", in: "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope", status: 403, body: "nope", keep: true},
		{name: "malformed status line", in: "HTTP/1.1 2xx OK\r\n\r\n", err: "malformed status line"},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", err: "malformed status line"},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", err: "malformed header line"},
		{name: "negative length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "bad Content-Length"},
		{name: "oversized length", in: fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", maxAnswer+1), err: "bad Content-Length"},
		{name: "unknown transfer encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: "unsupported Transfer-Encoding"},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: "bad chunk size"},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n", err: "chunk not followed by CRLF"},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", err: "unexpected EOF"},
		{name: "truncated headers", in: "HTTP/1.1 200 OK\r\nContent-Len", err: "unexpected EOF"},
		{name: "empty", in: "", err: "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tc.in), 64)
			status, body, keep, err := readAnswer(r, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || string(body) != tc.body || keep != tc.keep {
				t.Fatalf("got %d %q keep=%v, want %d %q keep=%v", status, body, keep, tc.status, tc.body, tc.keep)
			}
			if rest, _ := io.ReadAll(r); string(rest) != tc.restAfter {
				t.Fatalf("left %q in the reader, want %q", rest, tc.restAfter)
			}
		})
	}
}

// Conn against net/http's server over TLS: requests reach the handler as
// sent, answers come back whole, one connection serves many requests, and
// a connection the server closed is dialled again.
func TestConnAgainstNetHTTP(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Header.Get("Authorization"), r.Host, body)
		case "/big": // chunked: larger than net/http's buffer and no length
			w.Write([]byte(strings.Repeat("x", 100000)))
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	conf := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	addr := strings.TrimPrefix(srv.URL, "https://")
	c := NewConn(addr, conf)
	defer c.Close()

	for i := 0; i < 20; i++ {
		status, body, err := c.Do("POST", "/echo", "Authorization: Bearer t\r\n", []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("POST Bearer t %s %d", addr, i); status != 200 || string(body) != want {
			t.Fatalf("got %d %q, want 200 %q", status, body, want)
		}
	}
	status, body, err := c.Do("GET", "/big", "", nil)
	if err != nil || status != 200 || len(body) != 100000 {
		t.Fatalf("big answer: %d, %d bytes, %v", status, len(body), err)
	}
	if status, _, err := c.Do("GET", "/missing", "", nil); err != nil || status != 404 {
		t.Fatalf("missing: %d %v", status, err)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 22 requests, want 1 (keep-alive)", n)
	}
	if status, _, err := c.Do("GET", "/close", "", nil); err != nil || status != 202 {
		t.Fatalf("close: %d %v", status, err)
	}
	if status, _, err := c.Do("POST", "/echo", "", []byte("again")); err != nil || status != 200 {
		t.Fatalf("after close: %d %v", status, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (dialled again after Connection: close)", n)
	}
}

// FuzzReadAnswer: any bytes from the network give an answer or an error,
// never a panic or a body beyond the limit.
func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, in []byte) {
		status, body, _, err := readAnswer(bufio.NewReaderSize(strings.NewReader(string(in)), 512), nil)
		if err != nil {
			return
		}
		if status < 100 || status > 999 || len(body) > maxAnswer || len(body) > len(in) {
			t.Fatalf("status %d, %d-byte body from %d bytes", status, len(body), len(in))
		}
	})
}
