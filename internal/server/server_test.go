package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
)

// startServer runs a server on loopback ports chosen by the kernel and
// returns its run information; the server stops when the test ends.
func startServer(t *testing.T, demo bool) (RunInfo, string) {
	t.Helper()
	info, dir, _ := startServerOut(t, demo)
	return info, dir
}

// startServerOut is startServer that also returns what the server printed
// (with --demo, the demo users' passwords).
func startServerOut(t *testing.T, demo bool) (RunInfo, string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.TLSListen = "127.0.0.1:0"
	cfg.Web.Listen = "127.0.0.1:0"
	cfg.Mediation.Listen = "127.0.0.1:0"
	cfg.Attendant.Listen = "127.0.0.1:0"
	cfg.Announcement.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan RunInfo, 1)
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- Run(ctx, Options{DataDir: dir, Config: cfg, Demo: demo, Out: &out, Ready: func(i RunInfo) { ready <- i }},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	var info RunInfo
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel = %v; want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15s of cancel")
		}
		if _, err := os.Stat(filepath.Join(dir, runFileName)); !os.IsNotExist(err) {
			t.Errorf("run.json left behind after stop: %v", err)
		}
	})
	if demo && !strings.Contains(out.String(), "sip:alice@parley.test") {
		t.Errorf("demo output lacks alice's credentials:\n%s", out.String())
	}
	return info, dir, out.String()
}

func TestRunPublishesRunFileAndAnswers(t *testing.T) {
	info, dir := startServer(t, true)

	b, err := os.ReadFile(filepath.Join(dir, runFileName))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk RunInfo
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk != info {
		t.Fatalf("run.json = %+v, %v; want %+v", onDisk, err, info)
	}
	if fi, err := os.Stat(filepath.Join(dir, tokenFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v; want 0600", err, fi.Mode())
	}

	// The admin API refuses a request without the token.
	res, err := http.Get(info.AdminURL + "/api/v1/users")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/users without token = %d; want 401", res.StatusCode)
	}

	// SIP OPTIONS to the server over UDP gets 200.
	conn, err := net.Dial("udp", info.SIPUDP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	laddr := conn.LocalAddr().String()
	msg := "OPTIONS sip:" + info.SIPUDP + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + laddr + ";branch=z9hG4bK-test-1\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@example.org>;tag=1\r\nTo: <sip:" + info.SIPUDP + ">\r\n" +
		"Call-ID: options-1@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer to OPTIONS: %v", err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Errorf("OPTIONS answer:\n%s\nwant 200", got)
	}
}

// TestTLSListener checks that a fresh data directory gets a self-signed
// certificate and that SIP over TLS is answered.
func TestTLSListener(t *testing.T) {
	info, dir := startServer(t, false)
	if info.SIPTLS == "" {
		t.Fatal("no TLS listener")
	}
	if _, err := os.Stat(filepath.Join(dir, "tls", "key.pem")); err != nil {
		t.Fatalf("generated key: %v", err)
	}
	conn, err := tls.Dial("tcp", info.SIPTLS, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn == "" {
		t.Error("certificate has no common name")
	}
	laddr := conn.LocalAddr().String()
	msg := "OPTIONS sip:" + info.SIPTLS + ";transport=tls SIP/2.0\r\n" +
		"Via: SIP/2.0/TLS " + laddr + ";branch=z9hG4bK-tls-1\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@example.org>;tag=1\r\nTo: <sip:" + info.SIPTLS + ">\r\n" +
		"Call-ID: tls-1@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer over TLS: %v", err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Errorf("OPTIONS over TLS answered:\n%s", got)
	}
}

func TestRunRestartKeepsOrganization(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.SIP.Listen, cfg.SIP.TLSListen, cfg.Web.Listen = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.Mediation.Listen = "127.0.0.1:0"
	cfg.Attendant.Listen = "127.0.0.1:0"
	cfg.Announcement.Listen = "127.0.0.1:0"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, demo := range []bool{true, false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		var out strings.Builder
		err := Run(ctx, Options{DataDir: dir, Config: cfg, Demo: demo, Out: &out, Ready: func(RunInfo) { cancel() }}, log)
		cancel()
		if err != nil {
			t.Fatalf("start %d (demo=%v): %v\n%s", i, demo, err, out.String())
		}
		if i == 2 && !strings.Contains(out.String(), "seeded before") {
			t.Errorf("third start output = %q; want the seeded-before notice", out.String())
		}
	}
}
