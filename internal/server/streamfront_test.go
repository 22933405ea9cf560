package server

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestFrameMessage(t *testing.T) {
	reg := string(sippRegister)
	withBody := "MESSAGE sip:a@b SIP/2.0\r\nl: 5\r\nCall-ID: x\r\n\r\nhello"
	tests := []struct {
		name      string
		in        string
		from, max int
		n         int
		found, ok bool
	}{
		{"REGISTER", reg, 0, 65535, len(reg), true, true},
		{"two messages", reg + reg, 0, 65535, len(reg), true, true},
		{"searched before", reg, 100, 65535, len(reg), true, true},
		{"body, compact Content-Length", withBody + "NEXT", 0, 65535, len(withBody), true, true},
		{"body not yet read", withBody[:len(withBody)-2], 0, 65535, len(withBody), true, true},
		{"headers not yet read", reg[:40], 0, 65535, 0, false, true},
		{"no Content-Length", "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", 0, 65535, 0, false, false},
		{"two Content-Length", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n", 0, 65535, 0, false, false},
		{"bad Content-Length", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", 0, 65535, 0, false, false},
		{"folded line", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 0\r\n\r\n", 0, 65535, 0, false, false},
		{"too large", reg, 0, 100, 0, false, false},
		{"headers beyond the limit", reg[:120], 0, 100, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, found, ok := frameMessage([]byte(tt.in), tt.from, tt.max)
			if n != tt.n || found != tt.found || ok != tt.ok {
				t.Errorf("frameMessage = %d, %v, %v; want %d, %v, %v", n, found, ok, tt.n, tt.found, tt.ok)
			}
		})
	}
}

func FuzzFrameMessage(f *testing.F) {
	f.Add(sippRegister, 0, 65535)
	f.Add([]byte("A\r\nl: 3\r\n\r\nabcB"), 5, 20)
	f.Fuzz(func(t *testing.T, b []byte, from, max int) {
		n, found, ok := frameMessage(b, from, max)
		if n < 0 || (found && (n == 0 || !ok || n > max)) || (!found && n != 0) {
			t.Fatalf("frameMessage = %d, %v, %v for %d bytes, max %d", n, found, ok, len(b), max)
		}
		// Where the search starts changes nothing when nothing was
		// skipped over.
		if n2, found2, ok2 := frameMessage(b, 0, max); from <= 0 && (n2 != n || found2 != found || ok2 != ok) {
			t.Fatalf("from %d: %d %v %v; from 0: %d %v %v", from, n, found, ok, n2, found2, ok2)
		}
	})
}

// TestFrontConnSplitsStream writes a REGISTER, an OPTIONS and a keep-alive
// ping down a connection in small pieces: the REGISTER reaches the front
// end's queue, sipgo reads the OPTIONS and then the ping alone, and the
// REGISTER's response goes back on the connection.
func TestFrontConnSplitsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, calls := testFront(t, nil)
		client, server := net.Pipe()
		defer client.Close()
		c := &frontConn{Conn: server, f: f, transport: "TCP", source: "192.0.2.1:4000", maxMessage: 65535}
		options := bytes.ReplaceAll(sippRegister, []byte("REGISTER"), []byte("OPTIONS"))
		stream := append(append(append([]byte{}, sippRegister...), options...), "\r\n\r\n"...)
		go func() {
			for len(stream) > 0 {
				n := min(7, len(stream))
				if _, err := client.Write(stream[:n]); err != nil {
					return
				}
				stream = stream[n:]
			}
		}()

		buf := make([]byte, 32768)
		var got []byte
		for !bytes.HasSuffix(got, options) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, options) {
			t.Fatalf("sipgo read %q, want the OPTIONS only", got)
		}
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "\r\n\r\n" {
			t.Fatalf("sipgo read %q, %v; want the ping alone", buf[:n], err)
		}
		if len(f.queue) != 1 {
			t.Fatalf("%d REGISTERs queued, want 1", len(f.queue))
		}

		runFront(t, f)
		res := make([]byte, 4096)
		n, err = client.Read(res)
		if err != nil || !strings.HasPrefix(string(res[:n]), "SIP/2.0 200 OK\r\n") || calls.Load() != 1 {
			t.Fatalf("client read %q, %v; want the 200", res[:n], err)
		}
		if !strings.Contains(string(res[:n]), "received=192.0.2.1") {
			t.Errorf("response %q lacks the source in received", res[:n])
		}
	})
}

// TestFrontConnPassthrough checks that a stream the framer cannot follow
// reaches sipgo byte for byte, and that the end of the connection does.
func TestFrontConnPassthrough(t *testing.T) {
	f, _ := testFront(t, nil)
	client, server := net.Pipe()
	c := &frontConn{Conn: server, f: f, transport: "TCP", source: "192.0.2.1:4000", maxMessage: 65535}
	odd := "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n" + string(sippRegister)
	go func() {
		_, _ = client.Write([]byte(odd))
		client.Close()
	}()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != odd {
		t.Fatalf("read %q, %v; want everything, the REGISTER included", got, err)
	}
	if len(f.queue) != 0 {
		t.Error("a REGISTER after an unframeable message was taken")
	}
}

// TestFrontConnOverload refuses a REGISTER on a connection at once.
func TestFrontConnOverload(t *testing.T) {
	f, _ := testFront(t, nil)
	f.sojourn.Store(int64(time.Second))
	f.queue <- regJob{}
	client, server := net.Pipe()
	defer client.Close()
	c := &frontConn{Conn: server, f: f, transport: "TCP", source: "192.0.2.1:4000", maxMessage: 65535}
	go func() { _, _ = client.Write(sippRegister) }()
	go func() { _, _ = c.Read(make([]byte, 1024)) }()
	res := make([]byte, 4096)
	n, err := client.Read(res)
	if err != nil || !strings.HasPrefix(string(res[:n]), "SIP/2.0 503 Service Unavailable\r\n") {
		t.Fatalf("client read %q, %v; want 503", res[:n], err)
	}
	server.Close()
}

// TestFrontConnBufferedMessages sends a ping, a REGISTER and an OPTIONS in
// one write and nothing more: all of them must come out without waiting
// for further data.
func TestFrontConnBufferedMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := testFront(t, nil)
		client, server := net.Pipe()
		defer client.Close()
		c := &frontConn{Conn: server, f: f, transport: "TLS", source: "192.0.2.1:4000", maxMessage: 65535}
		options := bytes.ReplaceAll(sippRegister, []byte("REGISTER"), []byte("OPTIONS"))
		go func() { _, _ = client.Write(append(append([]byte("\r\n\r\n"), sippRegister...), options...)) }()
		buf := make([]byte, 32768)
		for _, want := range []string{"\r\n\r\n", string(options)} {
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
			}
		}
		if len(f.queue) != 1 {
			t.Fatalf("%d REGISTERs queued, want 1", len(f.queue))
		}
	})
}
