package caclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"edgecert/internal/certfmt"
)

// maxAnswer bounds what the client reads from the server.
const maxAnswer = 16 << 20

// wireResult is a request's state as the API sends it.
type wireResult struct {
	RequestID   int64    `json:"request_id"`
	Status      string   `json:"status"`
	Serial      string   `json:"serial"`
	Reason      string   `json:"reason"`
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain"`
}

// response decodes the certificates and turns a non-issued state into the
// matching sentinel error (the Response is returned with it).
func (v *wireResult) response() (*Response, error) {
	r := &Response{RequestID: v.RequestID, Status: v.Status, Serial: v.Serial}
	if v.Certificate != "" {
		c, err := parseOnePEM(v.Certificate)
		if err != nil {
			return nil, fmt.Errorf("caclient: the issued certificate: %w", err)
		}
		r.Certificate = c
	}
	for i, p := range v.Chain {
		c, err := parseOnePEM(p)
		if err != nil {
			return nil, fmt.Errorf("caclient: chain certificate %d: %w", i+1, err)
		}
		r.Chain = append(r.Chain, c)
	}
	switch v.Status {
	case "issued":
		if r.Certificate == nil {
			return nil, errors.New("caclient: the server said issued but sent no certificate")
		}
		return r, nil
	case "pending":
		return r, fmt.Errorf("request %d: %w", v.RequestID, ErrPending)
	case "denied":
		if v.Reason != "" {
			return r, fmt.Errorf("request %d: %w: %s", v.RequestID, ErrDenied, v.Reason)
		}
		return r, fmt.Errorf("request %d: %w", v.RequestID, ErrDenied)
	case "revoked":
		return r, fmt.Errorf("request %d: %w", v.RequestID, ErrRevoked)
	}
	return nil, fmt.Errorf("caclient: unknown request status %q", v.Status)
}

func parseOnePEM(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// toPEM turns a DER request into PEM; PEM passes through.
func toPEM(csr []byte) []byte {
	if bytes.Contains(csr, []byte("-----BEGIN")) {
		return csr
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})
}

func parseP7B(der []byte) ([]*x509.Certificate, error) {
	return certfmt.DecodePKCS7(der)
}

func (c *Client) newRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends a JSON request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) (int, error) {
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("caclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, fmt.Errorf("caclient: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, apiError(resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, fmt.Errorf("caclient: %s %s: the answer is not JSON: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// get downloads a binary object.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("caclient: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("caclient: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp.StatusCode, b)
	}
	return b, nil
}

func apiError(status int, body []byte) error {
	e := &APIError{Status: status}
	if json.Unmarshal(body, e) != nil || e.Code == "" {
		e.Code = fmt.Sprintf("http_%d", status)
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	return e
}
