package topology

import (
	"fmt"
	"net"
	"strings"
)

// dnsNameProblem says why s is not a valid fully qualified DNS name, or
// returns "" when it is one. s is expected in lower case.
func dnsNameProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case strings.Contains(s, "*"):
		return "is a wildcard"
	case net.ParseIP(strings.Trim(s, "[]")) != nil:
		return "is an IP address, not a DNS name"
	case len(s) > 253:
		return "is longer than 253 characters"
	case strings.HasSuffix(s, "."):
		return "ends with a dot"
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return "is not fully qualified (it has no domain)"
	}
	for _, l := range labels {
		if p := labelProblem(l); p != "" {
			return p
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return "ends with a numeric label"
	}
	return ""
}

func labelProblem(l string) string {
	if l == "" {
		return "has an empty label (two dots in a row)"
	}
	if len(l) > 63 {
		return "has a label longer than 63 characters"
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return "has a label that starts or ends with '-'"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "has a character other than letters, digits, '-' and '.'"
		}
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// simpleURLProblem checks one simple URL against R84 (https, no port, only
// letters, digits, '.' and '/'); it returns why it is wrong, the rule id and
// what to change, or empty strings. suggest is a URL that would do, made
// from the topology's own domains.
func simpleURLProblem(u, suggest string) (reason, rule, fix string) {
	const scheme = "https://"
	if len(u) < len(scheme) || !strings.EqualFold(u[:len(scheme)], scheme) {
		fix := "use https://, e.g. " + suggest
		if _, rest, ok := strings.Cut(u, "://"); ok && rest != "" {
			fix = "use https://: https://" + rest
		} else if u != "" && !strings.Contains(u, ":") {
			fix = "use https://: https://" + u
		}
		return "does not start with https://", "R84", fix
	}
	rest := u[len(scheme):]
	host, _, _ := strings.Cut(rest, "/")
	if strings.Contains(host, ":") {
		return "carries a port", "R84", "remove the port; simple URLs are served on 443"
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '/') {
			return fmt.Sprintf("has the character %q; only letters, digits and '.' are safe (other characters may not work)", c), "R84", "use only letters, digits and dots"
		}
	}
	if p := dnsNameProblem(strings.ToLower(host)); p != "" {
		return "has a host that " + p, "dns-name", "give a fully qualified host, e.g. " + suggest
	}
	return "", "", ""
}

// containsName reports whether name occurs in s on label boundaries.
func containsName(s, name string) bool {
	for i := 0; name != ""; {
		j := strings.Index(s[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		before := start == 0 || s[start-1] == '/' || s[start-1] == '.'
		after := end == len(s) || s[end] == '/' || s[end] == '.'
		if before && after {
			return true
		}
		i = start + 1
	}
	return false
}
