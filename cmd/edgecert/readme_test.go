package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgecert/internal/testtool"
)

// tourCommand is one command of the README's quick tour.
type tourCommand struct {
	line       int    // line of README.md where it starts
	text       string // as printed, continuation lines included
	exit       int    // the exit status it announces ("# exit 4: …"), else 0
	background bool   // ends with &
}

var (
	exitNote   = regexp.MustCompile(`\s#\s*exit (\d):`)
	listenFlag = regexp.MustCompile(`--listen (\S+)`)
)

// quickTour returns the commands of the sh blocks of the README's section
// "A quick tour", in order.
func quickTour(readme []byte) ([]tourCommand, error) {
	lines := strings.Split(string(readme), "\n")
	var cmds []tourCommand
	inSection, inBlock := false, false
	var cur *tourCommand
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "## "):
			inSection = l == "## A quick tour"
			continue
		case !inSection:
			continue
		case strings.HasPrefix(l, "```"):
			inBlock = !inBlock && strings.TrimSpace(l) == "```sh"
			continue
		case !inBlock:
			continue
		}
		if cur == nil {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			cur = &tourCommand{line: i + 1}
			cur.text = l
		} else {
			cur.text += "\n" + l
		}
		if strings.HasSuffix(l, "\\") {
			continue
		}
		if m := exitNote.FindStringSubmatch(cur.text); m != nil {
			cur.exit = int(m[1][0] - '0')
		}
		cur.background = strings.HasSuffix(strings.TrimSpace(cur.text), "&")
		cmds = append(cmds, *cur)
		cur = nil
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("README.md has no sh block under \"## A quick tour\"")
	}
	return cmds, nil
}

// tourScript turns the commands into one bash script that stops at the
// first command whose exit status is not the one the README announces,
// naming its line. A command put in the background is waited for until its
// --listen address accepts connections, and stopped when the script ends.
func tourScript(cmds []tourCommand) string {
	var b strings.Builder
	b.WriteString("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n")
	for _, c := range cmds {
		first, _, _ := strings.Cut(c.text, "\n")
		fmt.Fprintf(&b, "echo \"[${SECONDS}s] \"%s >&2\n", shellQuote(fmt.Sprintf("README.md:%d: %s", c.line, first)))
		b.WriteString(c.text + "\n")
		if c.background {
			addr := "(no --listen)"
			if m := listenFlag.FindStringSubmatch(c.text); m != nil {
				addr = m[1]
			}
			host, port, _ := strings.Cut(addr, ":")
			fmt.Fprintf(&b, "end=$((SECONDS+180)); until (exec 3<>/dev/tcp/%s/%s) 2>/dev/null; do\n", host, port)
			fmt.Fprintf(&b, "  if [ $SECONDS -ge $end ]; then echo %s >&2; exit 1; fi; sleep 0.2\ndone\n",
				shellQuote(fmt.Sprintf("README.md:%d: nothing listens on %s after 180 s", c.line, addr)))
			continue
		}
		fmt.Fprintf(&b, "rc=$?; if [ $rc -ne %d ]; then echo %s\" exited $rc\" >&2; exit 1; fi\n",
			c.exit, shellQuote(fmt.Sprintf("README.md:%d: want exit %d, the command", c.line, c.exit)))
	}
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestReadmeQuickTour runs the README's quick tour from README.md itself,
// every command as printed and in order, in a temporary directory that
// sees the repository's module and examples (so `go build` and the example
// paths work as from the repository's root), with its own HOME. Each
// command must exit with the status the README gives it (0 unless a
// "# exit N:" note says otherwise).
//
// Three things differ from a person typing it, each for the test's sake:
// the CA's ports 8443 and 8080 are replaced by free ports (tests of other
// packages run at the same time); the background `ca serve` is waited for
// until it listens, and stopped at the end; the benchmark runs 1 s per
// client count instead of 10 s.
func TestReadmeQuickTour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds edgecert and runs the whole tour")
	}
	bash := testtool.Path(t, "bash")
	testtool.Path(t, "jq")
	goTool := testtool.Path(t, "go")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := quickTour(readme)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, c := range cmds {
		all.WriteString(c.text + "\n")
	}
	for _, want := range []string{"127.0.0.1:8443", "127.0.0.1:8080", "--duration 10s", "| jq ", "127.0.0.1:15353", "-port 5002"} {
		if !strings.Contains(all.String(), want) {
			t.Fatalf("the tour no longer contains %q: update this test's substitutions", want)
		}
	}
	// The ACME lab's DNS port, in the tour's ca serve and in the lab.
	labDNS, acmeHTTP := freePort(t), freePort(t)
	r := strings.NewReplacer(
		"127.0.0.1:8443", "127.0.0.1:"+freePort(t),
		"127.0.0.1:8080", "127.0.0.1:"+freePort(t),
		"127.0.0.1:15353", "127.0.0.1:"+labDNS,
		"-port 5002", "-port "+acmeHTTP,
		"--duration 10s", "--duration 1s",
	)
	for i := range cmds {
		cmds[i].text = r.Replace(cmds[i].text)
	}
	script := tourScript(cmds)

	dir := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "go.sum", "cmd", "internal", "examples", "scripts"} {
		if err := os.Symlink(filepath.Join(repo, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", script)
	cmd.Dir = dir
	// A HOME of its own (the CA pins, the default store), with the Go
	// caches of this one: the tour's go build then compiles nothing that
	// is already built. -trimpath: the build cache serves every temporary
	// folder.
	goEnv, err := exec.Command(goTool, "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	caches := strings.Fields(string(goEnv))
	if len(caches) != 3 {
		t.Fatalf("go env: %q", goEnv)
	}
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "GOFLAGS=-buildvcs=false -trimpath",
		"GOCACHE="+caches[0], "GOMODCACHE="+caches[1], "GOPATH="+caches[2],
		// The ACME lab's ports (scripts/acme-lab.sh), free ones here.
		"ACME_LAB_DNS_PORT="+labDNS, "ACME_LAB_PEBBLE_PORT="+freePort(t), "ACME_LAB_PEBBLE_MGMT_PORT="+freePort(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("%s", out.String())
	if err != nil {
		t.Fatalf("the README's quick tour failed (%v):\n%s", err, out.String())
	}
	for _, f := range []string{"edge.pfx", "ext.cer", "nginx-rp01/nginx.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the tour did not make %s: %v", f, err)
		}
	}
}

// TestQuickTourParser: continuation lines join, comments are skipped, the
// exit note and the background mark are read.
func TestQuickTourParser(t *testing.T) {
	md := "# x\n## A quick tour\n\n```sh\n# comment\n./a \\\n    --b\n./c &\n./d  # exit 4: waits\n./e # exit status 3 if wrong\n```\n## Next\n```sh\n./f\n```\n"
	cmds, err := quickTour([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []tourCommand{
		{line: 6, text: "./a \\\n    --b"},
		{line: 8, text: "./c &", background: true},
		{line: 9, text: "./d  # exit 4: waits", exit: 4},
		{line: 10, text: "./e # exit status 3 if wrong"},
	}
	if fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", cmds, want)
	}
}

// TestDocsCiteNoMissingFile: every relative link of README.md and docs/
// names a file or folder of the repository.
func TestDocsCiteNoMissingFile(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.md")
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	checked := 0
	for _, f := range append(docs, "../../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", f, target)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("found %d links; the test no longer finds them", checked)
	}
}
