package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, yaml, wantErr string
		check               func(File) bool
	}{
		{"empty file keeps defaults", "", "", func(f File) bool { return f.SIP.Listen == "127.0.0.1:5060" && f.SIP.Authenticate }},
		{"override", "sip:\n  listen: 127.0.0.1:15060\n  authenticate: false\n", "", func(f File) bool {
			return f.SIP.Listen == "127.0.0.1:15060" && !f.SIP.Authenticate && f.SIP.TLSListen == "127.0.0.1:5061"
		}},
		{"unknown key", "sip:\n  lisen: x\n", "lisen", nil},
		{"bad addr", "sip:\n  listen: nowhere\n", "sip.listen", nil},
		{"cert without key", "sip:\n  tls_cert: a.pem\n", "tls_key", nil},
		{"bad level", "log:\n  level: loud\n", "log.level", nil},
		{"bad dsn", "database:\n  dsn: mysql://x\n", "database.dsn", nil},
		{"tls off", "sip:\n  tls_listen: \"\"\n", "", func(f File) bool { return f.SIP.TLSListen == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(write(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v; want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f) {
				t.Errorf("Load = %+v", f)
			}
		})
	}
}

func TestEnvDSN(t *testing.T) {
	t.Setenv("PARLEY_DB_DSN", "postgres://u@127.0.0.1/db")
	f, err := Load("")
	if err != nil || f.Database.DSN != "postgres://u@127.0.0.1/db" {
		t.Fatalf("Load = %+v, %v", f.Database, err)
	}
}
