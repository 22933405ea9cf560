package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/mediation"
	"github.com/parleyhq/parley/internal/sipx"
	"github.com/parleyhq/parley/internal/sipx/trust"
)

// This file wires the Mediation Server (internal/mediation) into the
// server: its gateway-facing listeners, its next hop (this server's own
// proxy) and the trust between the two.

// serviceMediation is the service name the Mediation Server signs its
// INVITEs to the front end with.
const serviceMediation = "mediation"

// serviceAVMCU is the service name the A/V MCU signs its dial-out INVITEs
// with.
const serviceAVMCU = "avmcu"

// startMediation starts the Mediation Server under g when mediation.listen
// is set. Its next hop is this server's proxy: over TLS when the server has
// a TLS listener (OCS's Mediation Server talks TLS to its next-hop pool),
// otherwise TCP. The caller's server must be listening already.
func startMediation(ctx context.Context, g *errgroup.Group, cfg config.File, dataDir string, s *sipServer, dir mediation.Directory, poolFQDN string, log *slog.Logger) error {
	mc := cfg.Mediation
	if mc.Listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(mc.Listen)
	if err != nil {
		return fmt.Errorf("mediation.listen %q: %w", mc.Listen, err)
	}
	mediaHost := mc.MediaListen
	if mediaHost == "" {
		mediaHost = host
	}
	mediaAddr, err := netip.ParseAddr(mediaHost)
	if err != nil {
		return fmt.Errorf("mediation.media_listen %q: want an IP address", mediaHost)
	}

	front, err := mediationNextHop(cfg.SIP, dataDir, poolFQDN, s)
	if err != nil {
		return err
	}
	var serverTLS *tls.Config
	if mc.TLSListen != "" {
		tlsHost, _, _ := net.SplitHostPort(mc.TLSListen)
		cert, err := loadOrCreateCert(cfg.SIP.TLSCert, cfg.SIP.TLSKey, dataDir,
			[]string{poolFQDN, s.local.PrimaryDomain(), tlsHost, "localhost", "127.0.0.1", "::1"})
		if err != nil {
			return err
		}
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	signer := trust.Signer{Key: s.trustKey, Service: serviceMediation, Host: poolFQDN}
	med, err := mediation.New(mediation.Config{
		Listen: mc.Listen, TLSListen: mc.TLSListen, TLSConfig: serverTLS,
		MediaAddr: mediaAddr, Hostname: host, Domain: s.local.PrimaryDomain(),
		LocationProfile: mc.LocationProfile, Gateways: mc.Gateways,
		FrontEnd: front, Sign: signer.Sign,
		// The A/V MCU takes a dial-in caller's audio from the attendant
		// with an INVITE with Replaces (seed 001 step 11), signed.
		Verify: s.verifyTrusted, ReplaceServices: []string{serviceAVMCU},
		MediaTimeout: time.Duration(cfg.AVMCU.InactivitySeconds) * time.Second,
	}, dir, log)
	if err != nil {
		return err
	}
	if err := med.Listen(); err != nil {
		return err
	}
	g.Go(func() error { return med.Serve(ctx) })
	s.metrics.register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "parley", Subsystem: "mediation", Name: "calls_active",
		Help: "Calls the Mediation Server is relaying now.",
	}, func() float64 { return float64(med.Calls()) }))
	log.InfoContext(ctx, "mediation server listening", "udp", med.Addr("udp"), "tcp", med.Addr("tcp"), "tls", med.Addr("tls"),
		"next_hop", front.Addr, "next_hop_transport", front.Transport)
	return nil
}

// mediationNextHop is where the Mediation Server sends its calls: this
// server's TLS listener, trusting the server's own certificate, or its TCP
// listener when it has no TLS.
func mediationNextHop(sc config.SIPConfig, dataDir, poolFQDN string, s *sipServer) (mediation.FrontEnd, error) {
	if addr := s.listenAddrs["tls"]; addr != "" {
		host, _, _ := net.SplitHostPort(sc.TLSListen)
		cert, err := loadOrCreateCert(sc.TLSCert, sc.TLSKey, dataDir,
			[]string{poolFQDN, s.local.PrimaryDomain(), host, "localhost", "127.0.0.1", "::1"})
		if err != nil {
			return mediation.FrontEnd{}, err
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return mediation.FrontEnd{}, fmt.Errorf("the server's TLS certificate: %w", err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(leaf)
		return mediation.FrontEnd{
			Addr: dialable(addr), Transport: "tls",
			TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		}, nil
	}
	return mediation.FrontEnd{Addr: dialable(s.listenAddrs["tcp"]), Transport: "tcp"}, nil
}

// dialable turns a wildcard listen address into the loopback one.
func dialable(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsUnspecified() {
		return addr
	}
	lo := netip.IPv6Loopback()
	if ap.Addr().Unmap().Is4() {
		lo = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.AddrPortFrom(lo, ap.Port()).String()
}

// trustMediation wraps the proxy's authentication (sip.go installs it):
// an INVITE signed by the Mediation Server of this deployment
// (internal/sipx/trust, service "mediation") is authenticated as its From
// address without a digest challenge. The Mediation Server is a trusted
// peer of the front end (seed 000); its callers are PSTN numbers, which
// have no password. A request that carries a signature that does not
// verify is refused rather than challenged. Everything else goes to next;
// with authentication off (next nil) nothing changes.
func (s *sipServer) trustMediation(next func(ctx context.Context, req *sip.Request, source string) (string, *sip.Response)) func(ctx context.Context, req *sip.Request, source string) (string, *sip.Response) {
	if next == nil {
		return nil
	}
	return func(ctx context.Context, req *sip.Request, source string) (string, *sip.Response) {
		if len(req.GetHeaders(trust.Header)) == 0 {
			return next(ctx, req, source)
		}
		service, host, err := trust.Verify(s.trustKey, req, time.Now())
		if err == nil && service != serviceMediation && !outOfDialog(req) && s.isDeploymentHost(ctx, host) {
			// A trusted role's request in a dialog of a role that is gone
			// (the Conference Announcement Service unsubscribing from a
			// Focus that just deactivated): no such dialog, not an attack.
			s.log.DebugContext(ctx, "signed request for a dialog that is gone", "service", service, "method", req.Method)
			return "", sipx.Reject(req, 481, "Call/Transaction Does Not Exist", s.hostname, "the dialog has ended")
		}
		if err == nil && service != serviceMediation {
			err = fmt.Errorf("service %s may not place calls", service)
		}
		if err == nil && !s.isDeploymentHost(ctx, host) {
			err = fmt.Errorf("%s is not a server of this deployment", host)
		}
		from := req.From()
		if err == nil && from == nil {
			err = fmt.Errorf("no From")
		}
		if err != nil {
			s.log.WarnContext(ctx, "signed request refused", "source", source, "err", err)
			return "", sipx.Reject(req, 403, "Forbidden", s.hostname, err.Error())
		}
		aor, ok := s.local.AOR(from.Address)
		if !ok {
			return "", sipx.Reject(req, 403, "Forbidden", s.hostname, "the From address is not in our domain")
		}
		return aor, nil
	}
}

// isDeploymentHost reports whether host names this server's pool or one of
// the deployment's servers.
func (s *sipServer) isDeploymentHost(ctx context.Context, host string) bool {
	if s.local.IsAlias(host) {
		return true
	}
	servers, err := s.dir.Servers(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "reading the servers", "err", err)
		return false
	}
	for _, sv := range servers {
		if strings.EqualFold(sv.FQDN, host) {
			return true
		}
	}
	return false
}
