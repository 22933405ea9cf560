package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/announcement"
	"github.com/parleyhq/parley/internal/attendant"
	"github.com/parleyhq/parley/internal/avmcu"
)

// metrics is the server's Prometheus registry, served at GET /metrics on
// the web listener. The roles keep their own counters (Stats, Load) and
// know nothing of Prometheus; the collectors here read them at scrape
// time, so a scrape sees one consistent snapshot per role and costs the
// roles nothing between scrapes. No metric has a per-call or per-caller
// label: cardinality stays fixed however many people call.
type metrics struct {
	reg *prometheus.Registry
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &metrics{reg: reg}
}

// handler serves the registry in the text exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// register adds a collector; a duplicate name is a programming error.
func (m *metrics) register(c prometheus.Collector) {
	if m != nil {
		m.reg.MustRegister(c)
	}
}

// desc names a metric of Parley's namespace.
func desc(subsystem, name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName("parley", subsystem, name), help, nil, nil)
}

// attendantCollector exports the Conferencing Attendant's counters,
// among them the guessing defences of issue 6 (peers.md §2): how many
// wrong answers the guard slowed down and how many calls it ended.
type attendantCollector struct {
	srv *attendant.Server

	active, calls, refused, joined, throttled, hangups *prometheus.Desc
}

func newAttendantCollector(srv *attendant.Server) *attendantCollector {
	return &attendantCollector{
		srv:       srv,
		active:    desc("attendant", "calls_active", "Calls the Conferencing Attendant is answering now."),
		calls:     desc("attendant", "calls_total", "Calls the Conferencing Attendant answered."),
		refused:   desc("attendant", "calls_refused_total", "INVITEs the Conferencing Attendant refused (untrusted, unknown number, media, call limit)."),
		joined:    desc("attendant", "joins_total", "Callers the Focus added to their meeting."),
		throttled: desc("attendant", "guesses_throttled_total", "Wrong conference IDs, passcodes or PINs answered after a deliberate delay."),
		hangups:   desc("attendant", "guess_hangups_total", "Calls ended for guessing conference IDs, passcodes or PINs."),
	}
}

// Describe implements prometheus.Collector.
func (c *attendantCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.calls, c.refused, c.joined, c.throttled, c.hangups} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *attendantCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.srv.Stats()
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(c.srv.Calls()))
	ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(s.Calls))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.Refused))
	ch <- prometheus.MustNewConstMetric(c.joined, prometheus.CounterValue, float64(s.Joined))
	ch <- prometheus.MustNewConstMetric(c.throttled, prometheus.CounterValue, float64(s.Throttled))
	ch <- prometheus.MustNewConstMetric(c.hangups, prometheus.CounterValue, float64(s.GuessHangups))
}

// engineCollector exports a media engine's load: the A/V MCU's, or the
// attendant's prompt engine (subsystem tells them apart).
type engineCollector struct {
	load func() avmcu.Load

	legs, maxLegs, confs, tickLag, sendLag, skipped, rx, tx, unknown, refused, dropped *prometheus.Desc
}

func newEngineCollector(subsystem string, load func() avmcu.Load) *engineCollector {
	return &engineCollector{
		load:    load,
		legs:    desc(subsystem, "legs", "Audio legs open now."),
		maxLegs: desc(subsystem, "legs_max", "Audio legs the engine accepts before refusing with 503."),
		confs:   desc(subsystem, "conferences", "Conferences open now."),
		tickLag: prometheus.NewDesc(prometheus.BuildFQName("parley", subsystem, "tick_lag_seconds"),
			"Frame clock lag since start: how late each 20 ms tick started after its instant.",
			[]string{"quantile"}, nil),
		sendLag: prometheus.NewDesc(prometheus.BuildFQName("parley", subsystem, "send_lag_seconds"),
			"Send lag since start: how late each tick's latest slice of packets left after it was due (the headroom).",
			[]string{"quantile"}, nil),
		skipped: desc(subsystem, "skipped_ticks_total", "Frame ticks dropped because a conference fell two frames behind."),
		rx:      desc(subsystem, "rx_packets_total", "RTP/RTCP datagrams read."),
		tx:      desc(subsystem, "tx_packets_total", "RTP/RTCP datagrams sent."),
		unknown: desc(subsystem, "unknown_packets_total", "Datagrams from addresses no leg has, dropped."),
		refused: desc(subsystem, "send_refused_total", "Datagrams the kernel refused to send."),
		dropped: desc(subsystem, "events_dropped_total", "Leg events lost to a full queue."),
	}
}

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.legs, c.maxLegs, c.confs, c.tickLag, c.sendLag, c.skipped, c.rx, c.tx, c.unknown, c.refused, c.dropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.load()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(c.legs, float64(l.Legs))
	gauge(c.maxLegs, float64(l.MaxLegs))
	gauge(c.confs, float64(l.Conferences))
	quantiles(ch, c.tickLag, l.TickLag)
	quantiles(ch, c.sendLag, l.SendLag)
	counter(c.skipped, l.SkippedTicks)
	counter(c.rx, l.RxPackets)
	counter(c.tx, l.TxPackets)
	counter(c.unknown, l.Unknown)
	counter(c.refused, l.Refused)
	counter(c.dropped, l.EventsDropped)
}

// announcementCollector exports the Conference Announcement Service's
// counters.
type announcementCollector struct {
	srv *announcement.Server

	active, meetings, refused, played, failed, dropped, resyncs *prometheus.Desc
}

func newAnnouncementCollector(srv *announcement.Server) *announcementCollector {
	return &announcementCollector{
		srv:      srv,
		active:   desc("announcement", "meetings_active", "Meetings the Conference Announcement Service serves now."),
		meetings: desc("announcement", "meetings_total", "Meetings the A/V MCU invited the service into."),
		refused:  desc("announcement", "invites_refused_total", "Invitations the service refused."),
		played:   desc("announcement", "played_total", "Announcements the A/V MCU played."),
		failed:   desc("announcement", "failed_total", "Announcements the A/V MCU refused or did not answer."),
		dropped:  desc("announcement", "dropped_total", "Announcements dropped before sending (queue full, meeting over)."),
		resyncs:  desc("announcement", "roster_resyncs_total", "Rosters fetched again whole after a missed document."),
	}
}

// Describe implements prometheus.Collector.
func (c *announcementCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.meetings, c.refused, c.played, c.failed, c.dropped, c.resyncs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *announcementCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.srv.Stats()
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(s.Active))
	for d, v := range map[*prometheus.Desc]uint64{
		c.meetings: s.Meetings, c.refused: s.Refused, c.played: s.Announcements,
		c.failed: s.Failed, c.dropped: s.Dropped, c.resyncs: s.Resyncs,
	} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
}

// quantiles reports a lag histogram's summary as one gauge per quantile.
func quantiles(ch chan<- prometheus.Metric, d *prometheus.Desc, s avmcu.LagStats) {
	for q, v := range map[string]time.Duration{"0.5": s.P50, "0.99": s.P99, "0.999": s.P999, "1": s.Max} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v.Seconds(), q)
	}
}
