package server

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// checkHost answers 421 Misdirected Request to a request whose Host header does not name this
// server: a web page on an attacker's domain whose name the attacker re-points at 127.0.0.1 (DNS
// rebinding) can make the browser send requests here, but their Host is the attacker's name.
// Accepted: the listen address with or without its port; localhost, 127.0.0.1 and [::1] when the
// listener is loopback, localhost when the connection was made to a loopback address (a server
// listening on 0.0.0.0 opened in a browser on its own machine); an IP address the connection was
// made to (an address is not a name an attacker can re-point); and Options.AllowedHosts.
func (s *Server) checkHost(listen net.Addr, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	add := func(h string) { allowed[strings.ToLower(strings.Trim(h, "[]"))] = true }
	var loopback bool
	if ta, ok := listen.(*net.TCPAddr); ok {
		loopback = ta.IP.IsLoopback()
		if !ta.IP.IsUnspecified() {
			add(ta.IP.String())
		}
	}
	if loopback {
		for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
			add(h)
		}
	}
	for _, h := range s.opts.AllowedHosts {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		add(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.Trim(strings.TrimSuffix(host, "."), "[]"))
		if allowed[host] || isLocalIP(r, host) || (host == "localhost" && arrivedOnLoopback(r)) {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Warn("refused request for another host (DNS rebinding?)", "host", truncate(r.Host, 100), "path", r.URL.Path, "remote", r.RemoteAddr)
		s.writeError(w, r, &apiError{http.StatusMisdirectedRequest, "misdirected_request",
			fmt.Sprintf("this server does not answer for host %q: use its address, or start it with serve --allowed-host NAME", truncate(r.Host, 100))})
	})
}

// arrivedOnLoopback says whether r's connection was made to a loopback address: on a server
// listening on every address (0.0.0.0), a browser on the same machine names it localhost, a name
// no attacker can re-point at it.
func arrivedOnLoopback(r *http.Request) bool {
	ta := localTCPAddr(r)
	return ta != nil && ta.IP.IsLoopback()
}

// localTCPAddr is the address r's connection was made to, nil when it is not TCP.
func localTCPAddr(r *http.Request) *net.TCPAddr {
	ta, _ := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	return ta
}

// isLocalIP says whether host is the IP address r's connection was made to.
func isLocalIP(r *http.Request, host string) bool {
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	ta := localTCPAddr(r)
	return ta != nil && ta.IP.Equal(ip)
}
