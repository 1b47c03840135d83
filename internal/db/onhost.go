package db

import (
	"net"
	"strings"
)

// onThisHost reports whether a database server at host (a name, an
// address, or a Unix socket directory) runs on this machine: a Unix
// socket, localhost, a loopback address, or an address of one of this
// machine's interfaces. Names other than localhost are not resolved.
func onThisHost(host string) bool {
	switch {
	case host == "":
		return false
	case strings.HasPrefix(host, "/"), strings.EqualFold(host, "localhost"):
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
