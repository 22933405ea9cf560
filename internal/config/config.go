// Package config loads the settings one Parley process needs to start:
// listen addresses, TLS files, the database DSN and logging. Everything an
// administrator manages while the server runs (users, pools, policies,
// location profiles, access numbers) is data in the store, not config.
//
// Order of precedence: defaults, then the YAML file, then environment
// variables (PARLEY_DB_DSN only: secrets and deployment specifics), then
// command-line flags, then Validate.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is the whole configuration file.
type File struct {
	// Domain is the primary SIP domain given to a fresh organization on
	// first start. It is ignored once the organization exists; change
	// domains with `parley org set`.
	Domain string `yaml:"domain"`
	// Pool is the FQDN and numeric ID of this Standard Edition pool,
	// used on first start.
	Pool      PoolConfig      `yaml:"pool"`
	SIP       SIPConfig       `yaml:"sip"`
	Web       WebConfig       `yaml:"web"`
	Database  DatabaseConfig  `yaml:"database"`
	AVMCU     AVMCUConfig     `yaml:"avmcu"`
	Mediation MediationConfig `yaml:"mediation"`
	Attendant AttendantConfig `yaml:"attendant"`
	// Announcement is the Conference Announcement Service.
	Announcement AnnouncementConfig `yaml:"announcement"`
	Log          LogConfig          `yaml:"log"`
}

// PoolConfig names this server's pool.
type PoolConfig struct {
	FQDN string `yaml:"fqdn"`
	ID   string `yaml:"id"`
}

// SIPConfig holds the SIP listeners and the SIP core's limits.
type SIPConfig struct {
	// Listen is the UDP and TCP address.
	Listen string `yaml:"listen"`
	// TLSListen is the TLS address; empty disables TLS.
	TLSListen string `yaml:"tls_listen"`
	// TLSCert and TLSKey are PEM files; when both are empty a self-signed
	// certificate is generated into the data directory.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Hostname is the name the server puts in Via, Record-Route and
	// Warning headers; default: the host of Listen.
	Hostname string `yaml:"hostname"`
	// Authenticate turns digest authentication on. Turning it off is for
	// benchmarks only and is logged loudly.
	Authenticate bool `yaml:"authenticate"`
	// MaxInFlight bounds concurrent server transactions; past it requests
	// get 503 with Retry-After instead of queueing.
	MaxInFlight int `yaml:"max_in_flight"`
	// ForwardOutOfDomain lets the proxy forward requests for foreign
	// domains.
	ForwardOutOfDomain bool `yaml:"forward_out_of_domain"`
	// MaxMessageBytes caps a SIP message; larger ones are dropped (UDP)
	// or answered 513 (stream transports).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// DigestAlgorithms are the digest algorithms challenges offer, in
	// order: MD5 (the default: baresip 1.0 and SIPp 3.6 give up on a
	// challenge that lists SHA-256) and SHA-256 (RFC 8760). Answers in
	// either are verified whatever is offered.
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// RegisterChallenge is how a REGISTER without credentials is
	// challenged: "www" (401, RFC 3261 §10.3) or "proxy" (407, the only
	// digest challenge Pidgin SIPE answers).
	RegisterChallenge string `yaml:"register_challenge"`
}

// AVMCUConfig configures the A/V Conferencing Server's media.
type AVMCUConfig struct {
	// Listen is the media address, host:port; every leg shares the one
	// RTP port (RTCP on the next port, or multiplexed). Port 0 takes any.
	Listen string `yaml:"listen"`
	// MaxLegs caps the audio legs; past it INVITEs get 503.
	MaxLegs int `yaml:"max_legs"`
	// InactivitySeconds hangs up a leg that sent no RTP or RTCP for that
	// long.
	InactivitySeconds int `yaml:"inactivity_seconds"`
}

// MediationConfig configures the Mediation Server: the gateway-facing SIP
// listener and how it normalizes the numbers gateways send.
type MediationConfig struct {
	// Listen is the gateway-facing SIP address (UDP and TCP); empty
	// disables the Mediation Server.
	Listen string `yaml:"listen"`
	// TLSListen optionally adds a TLS listener for gateways.
	TLSListen string `yaml:"tls_listen"`
	// MediaListen is the address of the gateway-facing RTP port range's
	// host (plain RTP); the port is chosen per call.
	MediaListen string `yaml:"media_listen"`
	// LocationProfile normalizes called and calling numbers to E.164;
	// empty uses the "Default" profile.
	LocationProfile string `yaml:"location_profile"`
	// Gateways are the addresses (host or host:port) calls are accepted
	// from; empty accepts loopback only.
	Gateways []string `yaml:"gateways"`
}

// AttendantConfig configures the Conferencing Attendant, which answers
// calls to dial-in access numbers (seed 000: it listens on TCP 5072).
type AttendantConfig struct {
	// Listen is its TCP address; empty disables the attendant.
	Listen string `yaml:"listen"`
	// MediaListen is the host:port of its RTP port (prompts and music);
	// port 0 takes any.
	MediaListen string `yaml:"media_listen"`
	// MaxCalls caps the callers at the attendant at once; past it calls
	// get 503.
	MaxCalls int `yaml:"max_calls"`
}

// AnnouncementConfig configures the Conference Announcement Service,
// which the A/V MCU invites into meetings with dial-in callers to play
// them entry and exit tones and mute announcements (seed 000: it listens
// on TCP 5073).
type AnnouncementConfig struct {
	// Listen is its TCP address; empty disables the service (dial-in
	// callers then hear no tones or mute announcements).
	Listen string `yaml:"listen"`
	// MaxConferences caps the meetings it serves at once.
	MaxConferences int `yaml:"max_conferences"`
}

// WebConfig holds the HTTP listener of the admin API and web pages.
type WebConfig struct {
	Listen string `yaml:"listen"`
}

// DatabaseConfig selects the store.
type DatabaseConfig struct {
	// DSN is "sqlite:/path" or "postgres://..."; empty means SQLite in
	// the data directory.
	DSN string `yaml:"dsn"`
}

// LogConfig sets logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Default returns the configuration of a fresh install: everything on
// loopback, SQLite in the data directory.
func Default() File {
	return File{
		Domain: "parley.local",
		Pool:   PoolConfig{FQDN: "pool.parley.local", ID: "10"},
		SIP: SIPConfig{
			Listen:            "127.0.0.1:5060",
			TLSListen:         "127.0.0.1:5061",
			Authenticate:      true,
			MaxInFlight:       20000,
			MaxMessageBytes:   65535,
			DigestAlgorithms:  []string{"MD5"},
			RegisterChallenge: "www",
		},
		Web:          WebConfig{Listen: "127.0.0.1:8080"},
		AVMCU:        AVMCUConfig{Listen: "127.0.0.1:0", MaxLegs: 4000, InactivitySeconds: 30},
		Mediation:    MediationConfig{Listen: "127.0.0.1:5068", MediaListen: "127.0.0.1"},
		Attendant:    AttendantConfig{Listen: "127.0.0.1:5072", MediaListen: "127.0.0.1:0", MaxCalls: 1000},
		Announcement: AnnouncementConfig{Listen: "127.0.0.1:5073", MaxConferences: 10000},
		Log:          LogConfig{Level: "info", Format: "text"},
	}
}

// Load reads the YAML file at path over the defaults (path "" reads
// nothing), applies environment overrides and validates the result.
func Load(path string) (File, error) {
	f := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return File{}, fmt.Errorf("config: %w", err)
		}
		if err := decode(data, &f); err != nil {
			return File{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if dsn := os.Getenv("PARLEY_DB_DSN"); dsn != "" {
		f.Database.DSN = dsn
	}
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

func decode(data []byte, f *File) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks the configuration and says which key is wrong.
func (f File) Validate() error {
	if f.Domain == "" {
		return errors.New("config: domain must not be empty")
	}
	if err := checkAddr("sip.listen", f.SIP.Listen, false); err != nil {
		return err
	}
	if err := checkAddr("sip.tls_listen", f.SIP.TLSListen, true); err != nil {
		return err
	}
	if (f.SIP.TLSCert == "") != (f.SIP.TLSKey == "") {
		return errors.New("config: sip.tls_cert and sip.tls_key must be given together")
	}
	if err := checkAddr("web.listen", f.Web.Listen, false); err != nil {
		return err
	}
	if err := checkAddr("avmcu.listen", f.AVMCU.Listen, false); err != nil {
		return err
	}
	if err := checkAddr("mediation.listen", f.Mediation.Listen, true); err != nil {
		return err
	}
	if err := checkAddr("mediation.tls_listen", f.Mediation.TLSListen, true); err != nil {
		return err
	}
	if err := checkAddr("attendant.listen", f.Attendant.Listen, true); err != nil {
		return err
	}
	if f.Attendant.Listen != "" {
		if err := checkAddr("attendant.media_listen", f.Attendant.MediaListen, false); err != nil {
			return err
		}
		if f.Attendant.MaxCalls < 1 || f.Attendant.MaxCalls > 100000 {
			return fmt.Errorf("config: attendant.max_calls must be between 1 and 100000, not %d", f.Attendant.MaxCalls)
		}
	}
	if err := checkAddr("announcement.listen", f.Announcement.Listen, true); err != nil {
		return err
	}
	if f.Announcement.Listen != "" && (f.Announcement.MaxConferences < 1 || f.Announcement.MaxConferences > 1000000) {
		return fmt.Errorf("config: announcement.max_conferences must be between 1 and 1000000, not %d", f.Announcement.MaxConferences)
	}
	if f.AVMCU.MaxLegs < 1 || f.AVMCU.MaxLegs > 100000 {
		return fmt.Errorf("config: avmcu.max_legs must be between 1 and 100000, not %d", f.AVMCU.MaxLegs)
	}
	if f.AVMCU.InactivitySeconds < 5 || f.AVMCU.InactivitySeconds > 3600 {
		return fmt.Errorf("config: avmcu.inactivity_seconds must be between 5 and 3600, not %d", f.AVMCU.InactivitySeconds)
	}
	if len(f.SIP.DigestAlgorithms) == 0 {
		return errors.New("config: sip.digest_algorithms must list MD5, SHA-256 or both")
	}
	for _, a := range f.SIP.DigestAlgorithms {
		if a != "MD5" && a != "SHA-256" {
			return fmt.Errorf("config: sip.digest_algorithms: %q is neither MD5 nor SHA-256", a)
		}
	}
	if f.SIP.RegisterChallenge != "www" && f.SIP.RegisterChallenge != "proxy" {
		return fmt.Errorf("config: sip.register_challenge must be www or proxy, not %q", f.SIP.RegisterChallenge)
	}
	if f.SIP.MaxInFlight < 1 {
		return fmt.Errorf("config: sip.max_in_flight must be positive, not %d", f.SIP.MaxInFlight)
	}
	if f.SIP.MaxMessageBytes < 1500 || f.SIP.MaxMessageBytes > 1<<20 {
		return fmt.Errorf("config: sip.max_message_bytes must be between 1500 and 1048576, not %d", f.SIP.MaxMessageBytes)
	}
	if _, err := f.Log.SlogLevel(); err != nil {
		return err
	}
	if f.Log.Format != "text" && f.Log.Format != "json" {
		return fmt.Errorf("config: log.format must be text or json, not %q", f.Log.Format)
	}
	if d := f.Database.DSN; d != "" && !strings.HasPrefix(d, "sqlite:") &&
		!strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") {
		return errors.New("config: database.dsn must start with sqlite:, postgres:// or postgresql://")
	}
	return nil
}

func checkAddr(key, addr string, optional bool) error {
	if addr == "" && optional {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("config: %s %q: want HOST:PORT", key, addr)
	}
	if host == "" {
		return fmt.Errorf("config: %s %q: give an address (0.0.0.0 for all)", key, addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("config: %s %q: bad port", key, addr)
	}
	return nil
}

// SlogLevel converts Level.
func (l LogConfig) SlogLevel() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, fmt.Errorf("config: log.level must be debug, info, warn or error, not %q", l.Level)
	}
	return lv, nil
}
