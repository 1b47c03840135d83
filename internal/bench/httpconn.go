package bench

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection over TLS, the load generator's
// client. It writes each request in one TLS record and reads the answer
// with one buffered reader, without net/http's per-request goroutines,
// header maps and connection pool: the load generator shares the machine
// with the server it measures, and every microsecond it spends is taken
// from the server (docs/BENCHMARKS.md compares both clients). It is not a
// general HTTP client: one request at a time, no redirects, no proxies, no
// compression, no HEAD requests (it would wait for a body) and no interim
// 1xx answers (it sends no Expect), and the connection is dialled again
// after any error.
type Conn struct {
	addr string
	conf *tls.Config
	tc   *tls.Conn
	r    *bufio.Reader
	req  []byte // reused request buffer
	body []byte // reused answer buffer
	// Timeout bounds each exchange (0: none).
	Timeout time.Duration
}

// maxAnswer bounds an answer's body: far above what the API answers.
const maxAnswer = 8 << 20

// NewConn returns a client for the HTTPS server at addr (host:port); it
// dials on the first request.
func NewConn(addr string, conf *tls.Config) *Conn {
	return &Conn{addr: addr, conf: conf}
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c.tc == nil {
		return nil
	}
	err := c.tc.Close()
	c.tc, c.r = nil, nil
	return err
}

// Do sends method path with the extra header lines (each "Name: value\r\n")
// and body, and returns the status and the answer's body. The body slice
// is reused by the next call.
func (c *Conn) Do(method, path, header string, body []byte) (int, []byte, error) {
	status, out, err := c.exchange(method, path, header, body)
	if err != nil {
		c.Close()
	}
	return status, out, err
}

func (c *Conn) exchange(method, path, header string, body []byte) (int, []byte, error) {
	if c.tc == nil {
		d := &net.Dialer{Timeout: 10 * time.Second}
		tc, err := tls.DialWithDialer(d, "tcp", c.addr, c.conf)
		if err != nil {
			return 0, nil, err
		}
		c.tc, c.r = tc, bufio.NewReaderSize(tc, 16<<10)
	}
	if c.Timeout > 0 {
		if err := c.tc.SetDeadline(time.Now().Add(c.Timeout)); err != nil {
			return 0, nil, err
		}
	}
	b := append(c.req[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	b = append(b, "\r\n"...)
	b = append(b, header...)
	if body != nil || method == "POST" || method == "PUT" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.req = b
	if _, err := c.tc.Write(b); err != nil {
		return 0, nil, err
	}
	status, out, keep, err := readAnswer(c.r, c.body[:0])
	if err != nil {
		return 0, nil, err
	}
	c.body = out
	if !keep {
		c.Close()
	}
	return status, out, nil
}

// readAnswer reads one HTTP/1.1 answer from r, appending its body to buf,
// and reports whether the connection stays open.
func readAnswer(r *bufio.Reader, buf []byte) (status int, body []byte, keep bool, err error) {
	line, err := readLine(r)
	if err != nil {
		return 0, nil, false, err
	}
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	code, _, _ := bytes.Cut(rest, []byte{' '})
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(code) != 3 {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(code))
	if err != nil || status < 100 {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked := int64(-1), false
	keep = bytes.Equal(proto, []byte("HTTP/1.1"))
	for {
		h, err := readLine(r)
		if err != nil {
			return 0, nil, false, err
		}
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte{':'})
		if !ok {
			return 0, nil, false, fmt.Errorf("malformed header line %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 || length > maxAnswer {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return 0, nil, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		return status, buf, keep, nil
	case chunked:
		buf, err = readChunked(r, buf)
	case length >= 0:
		buf, err = readN(r, buf, int(length))
	default: // the body runs to the end of the connection
		buf, err = readAll(r, buf)
		keep = false
	}
	if err != nil {
		return 0, nil, false, err
	}
	return status, buf, keep, nil
}

func readChunked(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		size, _, _ := bytes.Cut(line, []byte{';'})
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 || int64(len(buf))+n > maxAnswer {
			return nil, fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, then the empty line
				t, err := readLine(r)
				if err != nil {
					return nil, err
				}
				if len(t) == 0 {
					return buf, nil
				}
			}
		}
		if buf, err = readN(r, buf, int(n)); err != nil {
			return nil, err
		}
		if crlf, err := readLine(r); err != nil || len(crlf) != 0 {
			return nil, errors.New("chunk not followed by CRLF")
		}
	}
}

func readN(r *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n]
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		return nil, err
	}
	return buf, nil
}

func readAll(r *bufio.Reader, buf []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Write(buf)
	if _, err := b.ReadFrom(io.LimitReader(r, maxAnswer+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxAnswer {
		return nil, errors.New("answer too large")
	}
	return b.Bytes(), nil
}

// readLine returns one CRLF- (or LF-) terminated line without its ending;
// the slice is valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("header line too long")
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
