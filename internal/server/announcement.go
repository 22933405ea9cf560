package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/announcement"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/directory"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// startAnnouncement starts the Conference Announcement Service (seed 000,
// TCP 5073) and returns the SIP URI the A/V MCU invites it at, "" when it
// is disabled. It subscribes to rosters through the front end's TCP
// listener and signs as the pool's trusted announcement service, which is
// what the Focus admits as a trusted subscriber and what the MCU accepts
// playAnnouncement from.
func startAnnouncement(ctx context.Context, g *errgroup.Group, cfg config.AnnouncementConfig, s *sipServer, poolFQDN string, log *slog.Logger) (string, error) {
	if cfg.Listen == "" {
		return "", nil
	}
	srv, err := announcement.New(announcement.Config{
		Listen:         cfg.Listen,
		URI:            "sip:announcement@" + s.local.PrimaryDomain(),
		FrontEnd:       dialable(s.listenAddrs["tcp"]),
		Verify:         s.verifyTrusted,
		Services:       []string{serviceAVMCU},
		Signer:         trust.Signer{Key: s.trustKey, Service: directory.ServiceAnnouncement, Host: poolFQDN},
		MaxConferences: cfg.MaxConferences,
	}, log)
	if err != nil {
		return "", fmt.Errorf("announcement service: %w", err)
	}
	if err := srv.Listen(); err != nil {
		return "", fmt.Errorf("announcement service: %w", err)
	}
	g.Go(func() error { return srv.Serve(ctx) })
	s.metrics.register(newAnnouncementCollector(srv))
	addr := srv.Addr().String()
	host, port, _ := net.SplitHostPort(addr)
	uri := "sip:announcement@" + net.JoinHostPort(dialableHost(host), port) + ";transport=tcp"
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return "", fmt.Errorf("announcement service URI %q: %w", uri, err)
	}
	log.InfoContext(ctx, "conference announcement service listening", "tcp", addr)
	return uri, nil
}

// dialableHost is a host the MCU can reach: loopback for an unspecified
// listen address.
func dialableHost(host string) string {
	switch host {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return host
}
