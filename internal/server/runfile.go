package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RunInfo is what a running server publishes in DATA/run.json so that the
// admin CLI, given only --data DIR, can find the server it manages.
type RunInfo struct {
	AdminURL string `json:"admin_url"`
	SIPUDP   string `json:"sip_udp"`
	SIPTCP   string `json:"sip_tcp"`
	SIPTLS   string `json:"sip_tls,omitempty"`
	PID      int    `json:"pid"`
}

const (
	runFileName   = "run.json"
	tokenFileName = "admin.token"
)

// writeRunFile writes run.json atomically (temp file + rename), so a reader
// never sees half of it.
func writeRunFile(dataDir string, info RunInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dataDir, runFileName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write run file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, runFileName)); err != nil {
		return fmt.Errorf("write run file: %w", err)
	}
	return nil
}

func removeRunFile(dataDir string) {
	_ = os.Remove(filepath.Join(dataDir, runFileName))
}

// adminToken returns the admin API bearer token kept in DATA/admin.token,
// creating it (mode 0600, 256 random bits) on first start. Whoever can read
// the data directory administers the server, like a database's socket.
func adminToken(dataDir string) (string, error) {
	p := filepath.Join(dataDir, tokenFileName)
	b, err := os.ReadFile(p)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("admin token in %s is too short; delete it to generate a new one", p)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return tok, nil
}
