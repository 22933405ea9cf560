package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/adminapi"
)

// Files a running server keeps in its data directory (written by
// internal/server): where its admin API listens, and the API's token.
const (
	runFile   = "run.json"
	tokenFile = "admin.token"
)

// runInfo is the part of run.json the admin commands need.
type runInfo struct {
	AdminURL string `json:"admin_url"`
}

// requestTimeout bounds one admin API call; the server answers from its
// local database, so a slow answer means something is wrong.
const requestTimeout = 30 * time.Second

// client returns an admin API client for the server running for g.dataDir.
// A missing run.json means no server is running; a missing token file
// too, as the server writes it before run.json.
func (g *globals) client() (*adminapi.Client, error) {
	b, err := os.ReadFile(filepath.Join(g.dataDir, runFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, g.notRunning()
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(g.dataDir, runFile), err)
	}
	var info runInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", filepath.Join(g.dataDir, runFile), err)
	}
	u, err := url.Parse(info.AdminURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s has no usable admin_url (%q)", filepath.Join(g.dataDir, runFile), info.AdminURL)
	}
	tok, err := os.ReadFile(filepath.Join(g.dataDir, tokenFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, g.notRunning()
	}
	if err != nil {
		return nil, fmt.Errorf("read the admin token: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return nil, fmt.Errorf("the admin token file %s is empty", filepath.Join(g.dataDir, tokenFile))
	}
	return adminapi.NewClient(info.AdminURL, token, &http.Client{Timeout: requestTimeout}), nil
}
