// Package server assembles a Parley front end: it opens the store, bootstraps
// the organization, builds every role, wires them together through the
// interfaces they declare, starts the SIP and HTTP listeners and drains them
// on shutdown. It is the only package that imports all the others, and
// nothing imports it but cmd/parley.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/adminapi"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
)

// Options are what `parley serve` passes in.
type Options struct {
	// DataDir holds the SQLite database, the generated TLS certificate,
	// the admin token and run.json.
	DataDir string
	Config  config.File
	// Demo seeds the sample organization.
	Demo bool
	// Out receives the human-readable start-up report (listen addresses,
	// demo credentials).
	Out io.Writer
	// Ready, when not nil, is called once every listener is up.
	Ready func(RunInfo)
}

// Run runs a server until ctx is cancelled, then drains and stops it.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	cfg := opts.Config
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	dsn := cfg.Database.DSN
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(opts.DataDir, "parley.db")
	}
	db, err := store.Open(ctx, dsn, log.With("component", "store"))
	if err != nil {
		return err
	}
	defer db.Close()

	// The SIP roles and the admin service share one cache of users, so
	// admin writes are seen by the registrar and proxy at once.
	dir := newUserCache(db, time.Minute)
	svc := admin.New(dir, log.With("role", "admin"))
	domain, poolFQDN := cfg.Domain, cfg.Pool.FQDN
	if opts.Demo {
		domain, poolFQDN = "parley.test", "pool.parley.test"
	}
	poolFQDN, poolID, err := existingPool(ctx, db, poolFQDN, cfg.Pool.ID)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(cfg.SIP.Listen)
	if err := svc.Bootstrap(ctx, admin.BootstrapConfig{
		OrgName: "Parley", Domain: domain, PoolFQDN: poolFQDN, PoolID: poolID,
		ServerFQDN: poolFQDN, AttendantPort: 5072, AnnouncementPort: 5073,
	}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if opts.Demo {
		if err := seedDemo(ctx, svc, opts.Out); err != nil {
			return err
		}
	}

	token, err := adminToken(opts.DataDir)
	if err != nil {
		return err
	}
	org, err := db.Organization(ctx)
	if err != nil {
		return fmt.Errorf("load organization: %w", err)
	}

	hostname := cfg.SIP.Hostname
	if hostname == "" {
		hostname = host
	}
	local := newLocal(cfg.SIP, org, hostname, poolFQDN)
	ff, err := newFocusFactory(org, hostname, local, db, dir, log.With("role", "focusfactory"))
	if err != nil {
		return err
	}
	conf := &conferencing{Factory: ff}
	svc.SetConferencing(conf)
	sipSrv, err := newSIPServer(ctx, sipDeps{
		cfg: cfg.SIP, hostname: hostname, poolFQDN: poolFQDN, org: org, dir: dir, ff: ff, local: local, log: log,
	})
	if err != nil {
		return err
	}
	defer sipSrv.close()
	sipSrv.metrics = newMetrics()

	g, gctx := errgroup.WithContext(ctx)
	info := RunInfo{PID: os.Getpid()}

	// SIP listeners.
	if err := sipSrv.listen(gctx, g, cfg.SIP, opts.DataDir, poolFQDN, &info); err != nil {
		return err
	}

	// The A/V Conferencing Server: its media engine, and its SIP side on
	// the server's user agent.
	// The Conference Announcement Service, which the MCU invites.
	casURI, err := startAnnouncement(gctx, g, cfg.Announcement, sipSrv, poolFQDN, log.With("role", "announcement"))
	if err != nil {
		return err
	}
	mcu, err := startMCU(gctx, g, cfg.AVMCU, sipSrv, db, hostname, poolFQDN, casURI, log.With("role", "avmcu"))
	if err != nil {
		return err
	}
	sipSrv.mcuRef.Store(mcu)
	// The IM Conferencing Server, on the same user agent.
	im, err := newIMMCU(sipSrv, hostname, log.With("role", "immcu"))
	if err != nil {
		return fmt.Errorf("IM MCU: %w", err)
	}
	sipSrv.imRef.Store(im)
	if err := startMediation(gctx, g, cfg, opts.DataDir, sipSrv, dir, poolFQDN, log.With("role", "mediation")); err != nil {
		return err
	}

	// Admin API and web.
	webLn, err := net.Listen("tcp", cfg.Web.Listen)
	if err != nil {
		return fmt.Errorf("web listener: %w", err)
	}
	info.AdminURL = "http://" + webLn.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/api/", adminapi.NewHandler(svc, token, log.With("role", "adminapi")))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	// Prometheus metrics: counters and gauges only, no caller data. The
	// web listener is on loopback by default; expose it with care.
	mux.Handle("GET /metrics", sipSrv.metrics.handler())
	roles := roleAuth{key: TrustKey(org.ConferenceKey), dir: dir, host: poolFQDN, log: log}
	mountMCU(mux, mcu, roles)
	mountIMMCU(mux, im, roles)
	factory := newMCUFactory(info.AdminURL, roles, log.With("role", "mcufactory"))
	mux.Handle("/mcufactory/", http.StripPrefix("/mcufactory", factory.Handler(roles.verify)))
	g.Go(func() error { factory.Run(gctx); return nil })
	fc, err := newFocus(sipSrv, db, factory, roles, hostname, log.With("role", "focus"))
	if err != nil {
		return fmt.Errorf("focus: %w", err)
	}
	mcu.SetNotifier(focusLegs{legLog: legLog{log.With("role", "avmcu")}, focus: fc})
	im.SetEvents(focusChat{focus: fc})
	sipSrv.focusRef.Store(fc)
	// Meetings that were live when the server stopped go on: their Focus
	// comes back with its roster and roles; a failure only loses them.
	if n, err := fc.Resume(gctx); err != nil {
		log.ErrorContext(gctx, "resuming the meetings of the last run", "err", err)
	} else {
		log.InfoContext(gctx, "resumed the meetings of the last run", "meetings", n)
	}
	conf.focus.Store(fc)
	if err := startAttendant(gctx, g, cfg, sipSrv, sipSrv.objects, fc, org.ConferenceKey, poolFQDN, log.With("role", "attendant")); err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = fc.Close(closeCtx)
	}()
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	g.Go(func() error {
		if err := httpSrv.Serve(webLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("web: %w", err)
		}
		return nil
	})

	g.Go(func() error { return sipSrv.run(gctx) })
	g.Go(func() error { return dir.Run(gctx) })
	g.Go(func() error { ff.RunSweeper(gctx, sweepInterval); return nil })
	g.Go(func() error {
		// Users created before conferencing ran (the demo ones, an
		// upgrade) get their personal conference IDs in the background.
		if n, err := svc.AssignMissingConferenceIDs(gctx); err != nil && gctx.Err() == nil {
			log.Error("assigning personal conference IDs", "err", err)
		} else if n > 0 {
			log.Info("personal conference IDs assigned", "users", n)
		}
		return nil
	})

	if err := writeRunFile(opts.DataDir, info); err != nil {
		return err
	}
	defer removeRunFile(opts.DataDir)
	printListening(opts.Out, info, org.PrimaryDomain(), cfg.SIP.Authenticate)
	if !cfg.SIP.Authenticate {
		log.WarnContext(ctx, "SIP digest authentication is OFF (sip.authenticate: false); use this only for benchmarks")
	}
	log.InfoContext(ctx, "parley started", "sip_udp", info.SIPUDP, "sip_tcp", info.SIPTCP, "sip_tls", info.SIPTLS, "admin", info.AdminURL)
	if opts.Ready != nil {
		opts.Ready(info)
	}

	<-gctx.Done()
	log.InfoContext(ctx, "parley stopping")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutCtx)
	// The MCU says goodbye to the announcement service while SIP still
	// runs.
	if err := mcu.Shutdown(shutCtx); err != nil {
		log.DebugContext(shutCtx, "A/V MCU shutdown", "err", err)
	}
	// IM participants get a BYE; one that no longer answers (its client
	// went away without closing the connection) is not waited for long.
	imCtx, imCancel := context.WithTimeout(shutCtx, 2*time.Second)
	if err := im.Close(imCtx); err != nil {
		log.DebugContext(shutCtx, "IM MCU shutdown", "err", err)
	}
	imCancel()
	sipSrv.drain(shutCtx)
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		log.InfoContext(shutCtx, "parley stopped")
		return nil
	}
	return err
}

// existingPool returns the pool this server belongs to: the configured one
// on a fresh store, or, once the store has pools, the configured pool if it
// exists and otherwise the first one. The pool settings of the config file
// only matter on first start; afterwards pools are data.
func existingPool(ctx context.Context, db *store.DB, fqdn, id string) (string, string, error) {
	pools, err := db.Pools(ctx)
	if err != nil {
		return "", "", fmt.Errorf("list pools: %w", err)
	}
	for _, p := range pools {
		if strings.EqualFold(p.FQDN, fqdn) {
			return p.FQDN, p.ID, nil
		}
	}
	if len(pools) > 0 {
		return pools[0].FQDN, pools[0].ID, nil
	}
	return fqdn, id, nil
}

func printListening(w io.Writer, info RunInfo, domain string, auth bool) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "Parley is running for SIP domain %s\n", domain)
	fmt.Fprintf(w, "  SIP UDP   %s\n  SIP TCP   %s\n", info.SIPUDP, info.SIPTCP)
	if info.SIPTLS != "" {
		fmt.Fprintf(w, "  SIP TLS   %s\n", info.SIPTLS)
	}
	fmt.Fprintf(w, "  admin API %s/api/v1/\n", info.AdminURL)
	if !auth {
		fmt.Fprintf(w, "  WARNING: digest authentication is off (benchmark mode)\n")
	}
}
