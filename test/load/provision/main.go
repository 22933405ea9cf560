// Command provision creates many users in a running Parley through its
// admin API, for the load and memory benchmarks of test/load: the registrar
// answers 404 to addresses that are not in the directory even when
// authentication is off, and one `parley user add` per user would take
// longer than the benchmark.
//
//	go run ./test/load/provision -data DIR -domain parley.test -prefix u -count 20000
//
// creates sip:u000001@parley.test ... sip:u020000@parley.test with the
// password given by -password. Users that already exist are left alone.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("provision failed", "error", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	data     string
	domain   string
	prefix   string
	first    int
	count    int
	password string
	workers  int
}

func run(log *slog.Logger) error {
	var o options
	flag.StringVar(&o.data, "data", "", "data directory of the running server (holds run.json and admin.token)")
	flag.StringVar(&o.domain, "domain", "parley.test", "SIP domain of the users")
	flag.StringVar(&o.prefix, "prefix", "u", "user part prefix; a 6-digit number follows")
	flag.IntVar(&o.first, "first", 1, "number of the first user")
	flag.IntVar(&o.count, "count", 1000, "how many users")
	flag.StringVar(&o.password, "password", "bench-password", "password of every user")
	flag.IntVar(&o.workers, "workers", 8, "concurrent requests")
	flag.Parse()
	if o.data == "" || o.count < 1 || o.workers < 1 {
		flag.Usage()
		return errors.New("need -data, a positive -count and -workers")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	api, token, err := adminEndpoint(o.data)
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.workers},
	}
	start := time.Now()
	var created, existed atomic.Int64
	jobs := make(chan int)
	errs := make(chan error, o.workers)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				uri := fmt.Sprintf("sip:%s%06d@%s", o.prefix, n, o.domain)
				ok, err := addUser(ctx, client, api, token, uri, o.password)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					created.Add(1)
				} else {
					existed.Add(1)
				}
			}
		}()
	}
	var firstErr error
feed:
	for n := o.first; n < o.first+o.count; n++ {
		select {
		case jobs <- n:
		case firstErr = <-errs:
			break feed
		case <-ctx.Done():
			firstErr = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		select {
		case firstErr = <-errs:
		default:
		}
	}
	el := time.Since(start)
	log.Info("provisioned", "created", created.Load(), "existed", existed.Load(),
		"seconds", el.Seconds(), "per_second", float64(created.Load()+existed.Load())/el.Seconds())
	return firstErr
}

// errNoAdminURL means run.json does not say where the admin API listens.
var errNoAdminURL = errors.New("run.json has no admin_url")

// adminEndpoint reads the admin API address from DATA/run.json and the
// bearer token from DATA/admin.token.
func adminEndpoint(data string) (api, token string, err error) {
	b, err := os.ReadFile(filepath.Join(data, "run.json"))
	if err != nil {
		return "", "", fmt.Errorf("server not running? %w", err)
	}
	var run struct {
		AdminURL string `json:"admin_url"`
	}
	if err := json.Unmarshal(b, &run); err != nil {
		return "", "", fmt.Errorf("read run.json: %w", err)
	}
	if run.AdminURL == "" {
		return "", "", errNoAdminURL
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return "", "", err
	}
	return strings.TrimRight(run.AdminURL, "/") + "/api/v1/users", strings.TrimSpace(string(tok)), nil
}

// addUser creates one user; created is false when it already existed.
func addUser(ctx context.Context, c *http.Client, api, token, uri, password string) (created bool, err error) {
	body, err := json.Marshal(map[string]string{"uri": uri, "password": password})
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return false, fmt.Errorf("add %s: %w", uri, err)
	}
	defer func() { _ = res.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch {
	case res.StatusCode == http.StatusConflict:
		return false, nil
	case res.StatusCode/100 != 2:
		return false, fmt.Errorf("add %s: %s: %s", uri, res.Status, bytes.TrimSpace(msg))
	}
	return true, nil
}
