package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IssueConfig describes one issuance benchmark run.
type IssueConfig struct {
	Exe      string        // the edgecert binary to run the CA with
	CAKey    string        // p256 | rsa2048 (any `ca init --key` value)
	Clients  int           // concurrent keep-alive clients
	Duration time.Duration // measured window
	Warmup   time.Duration
	DSN      string // database; empty = SQLite in the CA directory
	Dir      string // working directory; empty = a temporary one, removed after
	Requests int    // distinct pre-generated requests (cycled); 0 = 4096
	Progress io.Writer
	// CPUProfile, when set, runs the server under the CPU profiler
	// (edgecert bench profile) and writes its profile there.
	CPUProfile string
	// ServerGOGC, when set, is the server process's GOGC.
	ServerGOGC string
	// ServerWorkers, when not 0, is the server's --workers.
	ServerWorkers int
	// PKCS11Module, when set, keeps the CA keys in a fresh SoftHSM2 token
	// (softhsm2-util, a token directory in the run's directory); the
	// edgecert binary must be the pkcs11 build.
	PKCS11Module string
}

// IssueResult is what one run measured.
type IssueResult struct {
	CAKey          string        `json:"ca_key"`
	Database       string        `json:"database"`
	Clients        int           `json:"clients"`
	Duration       time.Duration `json:"-"`
	Seconds        float64       `json:"seconds"`
	Issued         int           `json:"issued"`
	Errors         int           `json:"errors"`
	FirstError     string        `json:"first_error,omitempty"`
	PerSecond      float64       `json:"certificates_per_second"`
	P50            float64       `json:"p50_ms"`
	P90            float64       `json:"p90_ms"`
	P99            float64       `json:"p99_ms"`
	Max            float64       `json:"max_ms"`
	ServerCPU      float64       `json:"server_cpu_seconds"`
	PerCPUSecond   float64       `json:"certificates_per_server_cpu_second"`
	Verified       int           `json:"verified"`
	VerifyFailures int           `json:"verify_failures"`
	RawSignPerSec  float64       `json:"raw_sign_per_second"`
	RawSignCores   int           `json:"raw_sign_goroutines"`
	// Stages: where the server's time went during the window, from its
	// /metrics (nil when they could not be read).
	Stages *Stages `json:"stage_mean_ms,omitempty"`
}

// Stages are the server's mean times per answered submission, in
// milliseconds: waiting for a worker, working (parse, check, lint, sign),
// waiting for the database round that records it.
type Stages struct {
	Queue  float64 `json:"queue"`
	Work   float64 `json:"work"`
	Record float64 `json:"record"`
}

// stageTotals are the server's cumulative stage sums (seconds) and count.
type stageTotals struct {
	sum   [3]float64 // queue, work, record
	count float64
}

var stageOrder = [3]string{"queue", "work", "record"}

// parseStageTotals reads the edgecert_issuance_stage_seconds sums and
// count from a /metrics page; ok is false when a series is missing.
func parseStageTotals(page string) (t stageTotals, ok bool) {
	found := 0
	for _, line := range strings.Split(page, "\n") {
		name, value, cut := strings.Cut(line, " ")
		if !cut || !strings.HasPrefix(name, "edgecert_issuance_stage_seconds_") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return stageTotals{}, false
		}
		for i, st := range stageOrder {
			switch name {
			case `edgecert_issuance_stage_seconds_sum{stage="` + st + `"}`:
				t.sum[i] = v
				found++
			case `edgecert_issuance_stage_seconds_count{stage="` + st + `"}`:
				if i == 0 {
					t.count = v
					found++
				}
			}
		}
	}
	return t, found == len(stageOrder)+1
}

// stagesBetween is the mean of each stage over what a and b differ by.
func stagesBetween(a, b stageTotals) *Stages {
	n := b.count - a.count
	if n <= 0 {
		return nil
	}
	mean := func(i int) float64 { return (b.sum[i] - a.sum[i]) / n * 1000 }
	return &Stages{Queue: mean(0), Work: mean(1), Record: mean(2)}
}

// RunIssue performs one benchmark run.
func RunIssue(ctx context.Context, cfg IssueConfig) (*IssueResult, error) {
	if cfg.Clients <= 0 {
		return nil, errors.New("bench: clients must be at least 1")
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 4096
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "edgecert-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	srv, err := startCA(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	fmt.Fprintf(cfg.Progress, "generating %d P-256 requests\n", cfg.Requests)
	csrs, keys, err := makeRequests(cfg.Requests)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "driving %s with %d clients for %s (warm-up %s)\n", srv.url, cfg.Clients, cfg.Duration, cfg.Warmup)
	res, answers, err := drive(ctx, cfg, srv, csrs)
	if err != nil {
		return nil, err
	}
	res.CAKey, res.Clients = cfg.CAKey, cfg.Clients
	if cfg.PKCS11Module != "" {
		res.CAKey += "/pkcs11"
	} else if impl := srv.cryptoImpl(ctx); impl != "" && impl != "go" {
		res.CAKey += "/" + impl
	}
	res.Database = "sqlite"
	if cfg.DSN != "" {
		res.Database = "postgresql"
	}
	res.Verified, res.VerifyFailures = verifyAnswers(answers, keys, srv.roots, srv.inters)
	srv.stop()
	fmt.Fprintf(cfg.Progress, "measuring the raw signing rate of the issuing key\n")
	rate, n, err := rawSignRate(cfg.Exe, srv.env, dir, srv.passFile)
	if err != nil {
		fmt.Fprintf(cfg.Progress, "raw signing rate not measured: %v\n", err)
	}
	res.RawSignPerSec, res.RawSignCores = rate, n
	return res, nil
}

// server is a running `edgecert ca serve` child.
type server struct {
	cmd      *exec.Cmd
	env      []string // added to the environment of every edgecert child
	url      string
	token    string
	passFile string
	roots    *x509.CertPool
	inters   *x509.CertPool
	tlsConf  *tls.Config
	once     sync.Once
}

func (s *server) stop() {
	s.once.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = s.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-done
			}
		}
	})
}

// run executes the edgecert binary with args (and env added to this
// process's environment) and returns its combined output.
func run(ctx context.Context, env []string, exe string, args ...string) error {
	cmd := exec.CommandContext(ctx, exe, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("bench: edgecert %s: %w: %s", strings.Join(args[:2], " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func startCA(ctx context.Context, cfg IssueConfig, dir string) (*server, error) {
	caDir := filepath.Join(dir, "ca")
	pass := filepath.Join(dir, "passphrase")
	pw := filepath.Join(dir, "password")
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(pass, []byte("bench-passphrase-0123456789"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pw, []byte("bench-password-0123456789"), 0o600); err != nil {
		return nil, err
	}
	initArgs := []string{"ca", "init", "--dir", caDir, "--name", "Bench", "--key", cfg.CAKey, "--passphrase-file", pass}
	if cfg.DSN != "" {
		initArgs = append(initArgs, "--db", cfg.DSN)
	}
	var env []string
	if cfg.PKCS11Module != "" {
		var err error
		if env, err = softHSMToken(ctx, dir, "bench-passphrase-0123456789"); err != nil {
			return nil, err
		}
		initArgs = append(initArgs, "--pkcs11-module", cfg.PKCS11Module, "--pkcs11-token", "edgecert-bench")
	}
	steps := [][]string{
		initArgs,
		{"ca", "user", "add", "--dir", caDir, "bench", "--admin", "--password-file", pw},
		{"ca", "user", "token", "--dir", caDir, "bench", "--out", tok},
		{"ca", "chain", "--dir", caDir, "--out", filepath.Join(dir, "chain.pem")},
	}
	fmt.Fprintf(cfg.Progress, "creating a %s CA in %s\n", cfg.CAKey, caDir)
	for _, s := range steps {
		if err := run(ctx, env, cfg.Exe, s...); err != nil {
			return nil, err
		}
	}
	token, err := os.ReadFile(tok)
	if err != nil {
		return nil, err
	}
	roots, inters, err := loadChain(filepath.Join(dir, "chain.pem"))
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"ca", "serve", "--dir", caDir, "--listen", addr, "--passphrase-file", pass}
	if cfg.DSN != "" {
		args = append(args, "--db", cfg.DSN)
	}
	if cfg.ServerWorkers != 0 {
		args = append(args, "--workers", strconv.Itoa(cfg.ServerWorkers))
	}
	if cfg.CPUProfile != "" {
		args = append([]string{"bench", "profile", "--cpuprofile", cfg.CPUProfile, "--"}, args...)
	}
	cmd := exec.Command(cfg.Exe, args...)
	cmd.Env = append(os.Environ(), env...)
	if cfg.ServerGOGC != "" {
		cmd.Env = append(cmd.Env, "GOGC="+cfg.ServerGOGC)
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start ca serve: %w", err)
	}
	s := &server{cmd: cmd, env: env, url: "https://" + addr, token: strings.TrimSpace(string(token)), passFile: pass,
		roots: roots, inters: inters, tlsConf: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		return nil, fmt.Errorf("%w; server log:\n%s", err, log)
	}
	return s, nil
}

// metrics returns the server's /metrics page ("" when it cannot be read).
func (s *server) metrics(ctx context.Context) string {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsConf}, Timeout: 2 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
	if err != nil {
		return ""
	}
	resp, err := c.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}

// cryptoImpl returns the server's crypto implementation from the
// edgecert_build_info metric ("" when it cannot be read).
func (s *server) cryptoImpl(ctx context.Context) string {
	for _, line := range strings.Split(s.metrics(ctx), "\n") {
		if !strings.HasPrefix(line, "edgecert_build_info{") {
			continue
		}
		if _, rest, ok := strings.Cut(line, `crypto="`); ok {
			impl, _, _ := strings.Cut(rest, `"`)
			return impl
		}
	}
	return ""
}

func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsConf}, Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := c.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("bench: ca serve did not become healthy")
}

func loadChain(path string) (roots, inters *x509.CertPool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	roots, inters = x509.NewCertPool(), x509.NewCertPool()
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, err
		}
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots.AddCert(c)
		} else {
			inters.AddCert(c)
		}
	}
	return roots, inters, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// makeRequests pre-generates n P-256 keys and PEM requests.
func makeRequests(n int) ([][]byte, []crypto.PublicKey, error) {
	csrs := make([][]byte, n)
	keys := make([]crypto.PublicKey, n)
	for i := 0; i < n; i++ {
		k, err := ecdsa.GenerateKey(elliptic.P256(), randReader)
		if err != nil {
			return nil, nil, err
		}
		name := fmt.Sprintf("host%05d.bench.edgecert.test", i)
		der, err := x509.CreateCertificateRequest(randReader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		}, k)
		if err != nil {
			return nil, nil, err
		}
		body, _ := json.Marshal(map[string]string{
			"csr":      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
			"template": "WebServer",
		})
		csrs[i], keys[i] = body, k.Public()
	}
	return csrs, keys, nil
}

// answer is one successful response kept for verification after the window.
type answer struct {
	idx  int
	body []byte
}

func drive(ctx context.Context, cfg IssueConfig, s *server, bodies [][]byte) (*IssueResult, []answer, error) {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		next      atomic.Int64
		mu        sync.Mutex
		lat       []time.Duration
		answers   []answer
		errs      int
		firstErr  string
		wg        sync.WaitGroup
	)
	header := "Authorization: Bearer " + s.token + "\r\nContent-Type: application/json\r\n"
	for w := 0; w < cfg.Clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := NewConn(strings.TrimPrefix(s.url, "https://"), s.tlsConf)
			conn.Timeout = 30 * time.Second
			defer conn.Close()
			var myLat []time.Duration
			var myAns []answer
			myErrs, myFirst := 0, ""
			for !stop.Load() && ctx.Err() == nil {
				i := int(next.Add(1)-1) % len(bodies)
				t0 := time.Now()
				body, err := post(conn, header, bodies[i])
				d := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					myErrs++
					if myFirst == "" {
						myFirst = err.Error()
					}
					continue
				}
				myLat = append(myLat, d)
				myAns = append(myAns, answer{i, bytes.Clone(body)}) // conn reuses body
			}
			mu.Lock()
			lat = append(lat, myLat...)
			answers = append(answers, myAns...)
			errs += myErrs
			if firstErr == "" {
				firstErr = myFirst
			}
			mu.Unlock()
		}()
	}
	time.Sleep(cfg.Warmup)
	st0, ok0 := parseStageTotals(s.metrics(ctx))
	cpu0, _ := procCPU(s.cmd.Process.Pid)
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(cfg.Duration)
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, _ := procCPU(s.cmd.Process.Pid)
	st1, ok1 := parseStageTotals(s.metrics(ctx))
	stop.Store(true)
	wg.Wait()
	res := &IssueResult{Duration: elapsed, Seconds: elapsed.Seconds(), Issued: len(lat), Errors: errs, FirstError: firstErr}
	res.PerSecond = float64(len(lat)) / elapsed.Seconds()
	if ok0 && ok1 {
		res.Stages = stagesBetween(st0, st1)
	}
	res.ServerCPU = cpu1 - cpu0
	if res.ServerCPU > 0 {
		res.PerCPUSecond = float64(len(lat)) / res.ServerCPU
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50, res.P90, res.P99 = pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99)
	if len(lat) > 0 {
		res.Max = ms(lat[len(lat)-1])
	}
	return res, answers, nil
}

// post submits one request body; the answer's body is valid until conn's
// next request.
func post(conn *Conn, header string, body []byte) ([]byte, error) {
	status, out, err := conn.Do("POST", "/api/v1/certificates", header, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return nil, fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(out))
	}
	return out, nil
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// verifyAnswers checks every certificate: its key is the request's and it
// chains to the root for server authentication under its DNS name.
func verifyAnswers(answers []answer, keys []crypto.PublicKey, roots, inters *x509.CertPool) (ok, failed int) {
	for _, a := range answers {
		var r struct {
			Certificate string `json:"certificate"`
		}
		if err := json.Unmarshal(a.body, &r); err != nil {
			failed++
			continue
		}
		b, _ := pem.Decode([]byte(r.Certificate))
		if b == nil {
			failed++
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			failed++
			continue
		}
		pk, isEC := c.PublicKey.(*ecdsa.PublicKey)
		if !isEC || !pk.Equal(keys[a.idx]) {
			failed++
			continue
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
			DNSName: c.Subject.CommonName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			failed++
			continue
		}
		ok++
	}
	return ok, failed
}

// softHSMToken creates a SoftHSM2 token labelled edgecert-bench with PIN
// pin in dir/softhsm and returns the environment that selects it.
func softHSMToken(ctx context.Context, dir, pin string) ([]string, error) {
	tokens := filepath.Join(dir, "softhsm", "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm", "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return nil, err
	}
	env := []string{"SOFTHSM2_CONF=" + conf}
	cmd := exec.CommandContext(ctx, "softhsm2-util", "--init-token", "--free", "--label", "edgecert-bench", "--pin", pin, "--so-pin", pin)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench: softhsm2-util --init-token: %w: %s", err, bytes.TrimSpace(out))
	}
	return env, nil
}
