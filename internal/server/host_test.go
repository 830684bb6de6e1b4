package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// serveOnLoopback runs the real server (Serve's listener path, which checks Host) on a free
// loopback port until the test ends and returns its address. Requests authenticate with the
// Bearer key of opts.Access's admin (testAccess when opts names no registry).
func serveOnLoopback(t *testing.T, opts server.Options) (addr, authorization string) {
	t.Helper()
	if opts.Access == nil {
		var admin access.Credentials
		opts.Access, admin = testAccess(t)
		authorization = bearer(admin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.New(newTestBackend(), slog.New(slog.DiscardHandler), opts).ServeListener(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String(), authorization
}

// TestForeignHostIsRefusedWith421 is issue 14 item 3 (DNS rebinding): a request to the
// loopback server whose Host is another name gets 421 and a JSON error, never data; the listen
// address, localhost and names given with --allowed-host are answered.
func TestForeignHostIsRefusedWith421(t *testing.T) {
	addr, authorization := serveOnLoopback(t, server.Options{AllowedHosts: []string{"audit.example.com"}})
	_, port, _ := net.SplitHostPort(addr)
	send := func(host, method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", authorization)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	query := `{"sql":"SELECT eventname FROM \"aws:cloudtrail\".\"` + storeID + `\""}`
	for _, host := range []string{"evil.attacker.example", "evil.attacker.example:" + port, "localhost.evil.example", "127.0.0.1.nip.io:" + port, "audit.example.com.evil.example"} {
		for _, r := range [][3]string{{"POST", "/api/query", query}, {"GET", "/api/stores", ""}, {"GET", "/", ""}} {
			code, body := send(host, r[0], r[1], r[2])
			var e struct {
				Error struct{ Code, Message string }
			}
			if code != http.StatusMisdirectedRequest || json.Unmarshal(body, &e) != nil || e.Error.Code != "misdirected_request" || !strings.Contains(e.Error.Message, "--allowed-host") {
				t.Errorf("Host %q %s %s: %d %s, want 421 misdirected_request", host, r[0], r[1], code, body)
			}
			if strings.Contains(string(body), "eventname") || strings.Contains(string(body), storeID) {
				t.Errorf("Host %q %s %s leaked data: %s", host, r[0], r[1], body)
			}
		}
	}
	for _, host := range []string{addr, "127.0.0.1", "localhost:" + port, "LOCALHOST", "[::1]:" + port, "audit.example.com", "audit.example.com:443"} {
		if code, body := send(host, "POST", "/api/query", query); code != http.StatusOK {
			t.Errorf("Host %q: %d %s, want 200", host, code, body)
		}
	}
}

// TestLocalhostIsAnsweredOnAServerListeningOnEveryAddress: serve --listen 0.0.0.0:PORT (the
// issue's example) opened on its own machine as http(s)://localhost:PORT is answered; a foreign
// name is still 421.
func TestLocalhostIsAnsweredOnAServerListeningOnEveryAddress(t *testing.T) {
	reg, admin := testAccess(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on every address: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.New(newTestBackend(), slog.New(slog.DiscardHandler), server.Options{Access: reg, InsecureHTTP: true}).ServeListener(ctx, ln)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for host, want := range map[string]int{"localhost:" + port: http.StatusOK, "localhost": http.StatusOK, "127.0.0.1:" + port: http.StatusOK, "evil.attacker.example:" + port: http.StatusMisdirectedRequest} {
		req, err := http.NewRequest("GET", "http://127.0.0.1:"+port+"/api/stores", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", bearer(admin))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q on a server listening on 0.0.0.0: %d %s, want %d", host, resp.StatusCode, b, want)
		}
	}
}

// TestDribbledBodyDoesNotHoldTheConnection is a slow-body (slowloris) client: it sends a
// request's headers and then one byte of its announced body at a time. The server closes the
// connection once the request's read timeout has passed, instead of holding it (and its
// goroutine) for as long as the client likes; a whole request in time is still answered.
func TestDribbledBodyDoesNotHoldTheConnection(t *testing.T) {
	addr, authorization := serveOnLoopback(t, server.Options{ReadTimeout: time.Second})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/query HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr, authorization)
	start := time.Now()
	closed := false
	for time.Since(start) < 20*time.Second {
		if _, err := conn.Write([]byte(" ")); err != nil {
			closed = true
			break
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var b [512]byte
		n, err := conn.Read(b[:])
		if n > 0 || (err != nil && !errors.Is(err, os.ErrDeadlineExceeded)) {
			closed = true // an answer (the server gave up on the body) or the connection closed
			break
		}
	}
	if !closed {
		t.Fatalf("the server still held a connection dribbling its body after %s (read timeout 1s)", time.Since(start).Round(time.Second))
	}
	// A request sent whole is answered as before.
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/stores", nil)
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/stores: %d", resp.StatusCode)
	}
}
