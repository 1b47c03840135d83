package proxy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
)

// ErrNoRules is returned when a listener would publish nothing.
var ErrNoRules = errors.New("no publishing rule is covered by the reverse proxy certificate")

// Listener is one TLS listener certificate with the rules it serves.
type Listener struct {
	Name string // file stem, e.g. the plan id made file-safe
	// Cert is the planned certificate; nil while it is not issued yet (only
	// the port 80 servers are written, so that ACME http-01 can validate).
	Cert  *x509.Certificate
	Chain []*x509.Certificate // its chain, issuer first, up to the root
	Key   crypto.Signer
	Rules []Rule
}

// Config is what [WriteNginx] writes.
type Config struct {
	// Dir receives every file; it is made absolute.
	Dir string
	// Listen is the TLS address (default 0.0.0.0:443); HTTPListen the plain
	// HTTP address (default 0.0.0.0:80; "-" for none).
	Listen, HTTPListen string
	Listeners          []Listener
	// UpstreamTrust are the roots the upstream web services are checked
	// against: the internal CA's root (R51).
	UpstreamTrust []*x509.Certificate
	// ConfD writes, instead of a whole nginx.conf for a private nginx, a
	// file of server blocks (ConfDName) that the distribution's nginx
	// includes from /etc/nginx/conf.d/: no pid, events, logs or temporary
	// paths, every path absolute.
	ConfD bool
	// ConfDName is the file name in ConfD mode (default edgecert.conf).
	ConfDName string
}

// Files lists what WriteNginx wrote.
type Files struct {
	Config string   `json:"config"`
	Certs  []string `json:"certificates"`
	Keys   []string `json:"keys"`
	Chains []string `json:"chains"`
	Trust  string   `json:"upstream_trust"`
}

// WriteNginx writes the certificate (leaf and intermediates), key (0600)
// and full chain of every listener, the upstream trust file and
// nginx.conf, each atomically. Runtime files (pid, logs, temp) go to Dir too,
// so that `nginx -p DIR -c DIR/nginx.conf` needs nothing else. With
// ConfD it writes a server-block file for the distribution's nginx
// instead of nginx.conf, and no runtime folders.
func WriteNginx(cfg Config) (*Files, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if cfg.Listen == "" {
		cfg.Listen = "0.0.0.0:443"
	}
	if cfg.HTTPListen == "" {
		cfg.HTTPListen = "0.0.0.0:80"
	}
	tls := false
	for _, l := range cfg.Listeners {
		tls = tls || l.Cert != nil
	}
	if len(cfg.UpstreamTrust) == 0 && tls {
		return nil, errors.New("proxy: no upstream trust: import the internal CA chain on the reverse proxy first (R51)")
	}
	confName := "nginx.conf"
	if cfg.ConfD {
		confName = cfg.ConfDName
		if confName == "" {
			confName = "edgecert.conf"
		}
		if filepath.Base(confName) != confName || !strings.HasSuffix(confName, ".conf") {
			return nil, fmt.Errorf("proxy: %q is not a file name ending in .conf (conf.d includes *.conf)", confName)
		}
	}
	files := &Files{Config: filepath.Join(dir, confName), Trust: filepath.Join(dir, "upstream-trust.pem")}
	data := tmplData{Dir: dir, Listen: cfg.Listen, HTTPListen: cfg.HTTPListen, Trust: files.Trust, Config: files.Config, ConfD: cfg.ConfD}
	if cfg.HTTPListen == "-" {
		data.HTTPListen = ""
	}
	for _, l := range cfg.Listeners {
		if len(l.Rules) == 0 {
			return nil, fmt.Errorf("proxy: %s: %w", l.Name, ErrNoRules)
		}
		if l.Cert == nil {
			// Not issued yet (ACME http-01 needs port 80 first): the
			// port 80 servers only.
			if data.HTTPListen == "" {
				return nil, fmt.Errorf("proxy: %s: %w", l.Name, ErrNotInstalled)
			}
			data.Listeners = append(data.Listeners, tmplListener{Name: l.Name, Rules: l.Rules})
			continue
		}
		crt, key, chain := filepath.Join(dir, l.Name+".crt"), filepath.Join(dir, l.Name+".key"), filepath.Join(dir, l.Name+"-chain.pem")
		keyPEM, err := certfmt.MarshalPrivateKeyPEM(l.Key)
		if err != nil {
			return nil, fmt.Errorf("proxy: key of %s: %w", l.Name, err)
		}
		served := []*x509.Certificate{l.Cert}
		for _, c := range l.Chain {
			if !isSelfSigned(c) {
				served = append(served, c) // the root is not sent (clients have it)
			}
		}
		writes := []struct {
			path string
			data []byte
			perm os.FileMode
		}{
			{key, keyPEM, 0o600},
			{crt, certfmt.EncodeCertificatePEM(served...), 0o644},
			{chain, certfmt.EncodeCertificatePEM(append([]*x509.Certificate{l.Cert}, l.Chain...)...), 0o644},
		}
		for _, w := range writes {
			if err := atomicfile.Write(w.path, w.data, w.perm); err != nil {
				return nil, fmt.Errorf("proxy: %w", err)
			}
		}
		files.Certs, files.Keys, files.Chains = append(files.Certs, crt), append(files.Keys, key), append(files.Chains, chain)
		data.Listeners = append(data.Listeners, tmplListener{Name: l.Name, Cert: crt, Key: key, Rules: l.Rules})
	}
	if tls {
		if err := atomicfile.Write(files.Trust, certfmt.EncodeCertificatePEM(cfg.UpstreamTrust...), 0o644); err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
	} else {
		files.Trust = "" // no TLS server yet: nothing is forwarded over TLS
	}
	tmpl := "conf.d"
	if !cfg.ConfD {
		tmpl = "nginx.conf"
		for _, sub := range []string{"logs", "temp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
				return nil, fmt.Errorf("proxy: %w", err)
			}
		}
	}
	var buf bytes.Buffer
	if err := nginxTemplate.ExecuteTemplate(&buf, tmpl, data); err != nil {
		return nil, fmt.Errorf("proxy: %s: %w", confName, err)
	}
	if err := atomicfile.Write(files.Config, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return files, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

type tmplData struct {
	Dir, Listen, HTTPListen, Trust string
	Config                         string // the file written
	Listeners                      []tmplListener
	ConfD                          bool
}

type tmplListener struct {
	Name, Cert, Key string
	Rules           []Rule
}

var nginxTemplate = template.Must(template.New("nginx").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(`{{define "nginx.conf"}}# Reverse HTTP proxy configuration written by edgecert proxy nginx.
# Run: nginx -p {{.Dir}} -c {{.Dir}}/nginx.conf
# One TLS listener with the planned certificate, one server block per
# publishing rule, forwarding to the internal web services on 4443 (HTTPS)
# and 8080 (HTTP) and checking them against the internal CA root (R51, R61).
# SSL offloading is not supported by Lync (R61): the upstream leg is TLS too.

worker_processes 1;
pid {{.Dir}}/logs/nginx.pid;
error_log {{.Dir}}/logs/error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log {{.Dir}}/logs/access.log;
    client_body_temp_path {{.Dir}}/temp/body;
    proxy_temp_path {{.Dir}}/temp/proxy;
    fastcgi_temp_path {{.Dir}}/temp/fastcgi;
    uwsgi_temp_path {{.Dir}}/temp/uwsgi;
    scgi_temp_path {{.Dir}}/temp/scgi;
    server_names_hash_bucket_size 128;
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_read_timeout 960s;
    proxy_buffering off;
{{template "servers" .}}}
{{end}}{{define "conf.d"}}# Reverse HTTP proxy server blocks written by edgecert proxy nginx --conf-d,
# for the distribution's nginx: include this file from its http block, e.g.
#   ln -s {{.Config}} /etc/nginx/conf.d/   (or copy it there)
#   nginx -t && systemctl reload nginx
# One server block per publishing rule, forwarding to the internal web
# services on 4443 (HTTPS) and 8080 (HTTP) and checking them against the
# internal CA root (R51, R61). Long host names may need
# server_names_hash_bucket_size 128; in the http block of nginx.conf.
{{template "servers" .}}{{end}}{{define "servers"}}{{range $l := .Listeners}}{{range $r := $l.Rules}}
    # Publishing rule: {{$r.Name}}
{{- if $l.Cert}}
    server {
        listen {{$.Listen}} ssl;
        server_name {{join $r.Hosts " "}};
        ssl_certificate {{$l.Cert}};
        ssl_certificate_key {{$l.Key}};
        ssl_protocols TLSv1.2 TLSv1.3;
{{- if $.ConfD}}
        client_max_body_size 0;
        proxy_http_version 1.1;
        proxy_read_timeout 960s;
        proxy_buffering off;
{{- end}}
        location / {
            proxy_pass https://{{$r.HTTPSUpstream}};
            proxy_ssl_trusted_certificate {{$.Trust}};
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 4;
            proxy_ssl_name {{$r.UpstreamName}};
            proxy_ssl_server_name on;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
        }
    }
{{- else}}
    # (no TLS listener yet: its certificate is not issued; run proxy nginx again after apply)
{{- end}}
{{- if $.HTTPListen}}
    server {
        listen {{$.HTTPListen}};
        server_name {{join $r.Hosts " "}};
{{- if $.ConfD}}
        client_max_body_size 0;
        proxy_http_version 1.1;
        proxy_read_timeout 960s;
        proxy_buffering off;
{{- end}}
{{- if $r.ACMEWebroot}}
        # ACME http-01 challenges, answered from the webroot edgecert writes.
        location ^~ /.well-known/acme-challenge/ {
            root {{$r.ACMEWebroot}};
            default_type text/plain;
        }
{{- end}}
        location / {
            proxy_pass http://{{$r.HTTPUpstream}};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
{{- end}}
{{end}}{{end}}{{end}}`))
