// Command dialinload measures the dial-in path under load (seed 001,
// "Connecting to the Meeting"): it plays the PSTN gateway for N callers
// into M meetings through a running Parley, on loopback only.
//
// Per meeting it first joins one enterprise participant to the meeting's
// audio (a digest-authenticated INVITE to the A/V MCU URI of the meeting,
// sending a 700 Hz tone), so that the meeting has its leader and callers
// are not held, and the mix carries audio. Then it ramps the calls to the
// Mediation Server at -rate per second: each call offers plain RTP (PCMU,
// telephone-event), waits for the Conferencing Attendant's audio, types
// the conference ID and #, then the passcode and #, as RFC 4733 events
// between PCMU frames of silence, and notes when the first final report
// of the last # left. The Mediation Server is an RTP translator: when the
// A/V MCU takes the call (INVITE with Replaces), the packets reaching the
// gateway come from the MCU's SSRC instead of the attendant's. The join
// latency is from that # to the first packet with the new SSRC. Every call
// then stays until all calls have joined (or failed) and -hold more, must
// have heard the tone in the mix, and hangs up.
//
//	dialinload -mediation 127.0.0.1:5068 -proxy 127.0.0.1:5060 \
//	    -meetings meetings.jsonl -calls 300 -rate 10
//
// meetings.jsonl holds one meeting a line:
// {"organizer":"sip:org1@example.com","password":"...","meeting":{...}}
// where meeting is the output of `parley meeting create --json` (key,
// conference_id, passcode). test/load/dialin_bench.sh makes it.
//
// It prints the outcome and a RESULT line; it exits 1 when a call failed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// config is the command line.
type config struct {
	mediation, proxy string
	meetings         string
	number           string
	calls            int
	rate             float64
	typeDelay        time.Duration
	passcodeDelay    time.Duration
	joinTimeout      time.Duration
	hold             time.Duration
	timeout          time.Duration
}

// meeting is one line of the meetings file.
type meeting struct {
	Organizer string `json:"organizer"`
	Password  string `json:"password"`
	Meeting   struct {
		Key          string `json:"key"`
		ConferenceID string `json:"conference_id"`
		Passcode     string `json:"passcode"`
	} `json:"meeting"`
}

func main() {
	var c config
	flag.StringVar(&c.mediation, "mediation", "127.0.0.1:5068", "the Mediation Server's gateway address (UDP)")
	flag.StringVar(&c.proxy, "proxy", "127.0.0.1:5060", "the front end's SIP address (UDP), for the enterprise participants")
	flag.StringVar(&c.meetings, "meetings", "", "meetings file, one JSON object a line (required)")
	flag.StringVar(&c.number, "number", "5550100", "the access number, as the gateway dials it")
	flag.IntVar(&c.calls, "calls", 300, "number of callers")
	flag.Float64Var(&c.rate, "rate", 10, "new calls per second")
	flag.DurationVar(&c.typeDelay, "type-delay", 500*time.Millisecond, "from the attendant's first audio to the first key")
	flag.DurationVar(&c.passcodeDelay, "passcode-delay", 300*time.Millisecond, "from the conference ID's # to the passcode")
	flag.DurationVar(&c.joinTimeout, "join-timeout", 30*time.Second, "longest wait from the last # to the A/V MCU's audio")
	flag.DurationVar(&c.hold, "hold", 10*time.Second, "how long calls stay once all calls have joined")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	flag.Parse()
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dialinload:", err)
		os.Exit(1)
	}
}

// readMeetings parses the meetings file.
func readMeetings(r io.Reader) ([]meeting, error) {
	var out []meeting
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m meeting
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("meetings line %d: %w", n, err)
		}
		if !strings.HasPrefix(m.Organizer, "sip:") || m.Meeting.Key == "" || m.Meeting.ConferenceID == "" {
			return nil, fmt.Errorf("meetings line %d: organizer, meeting.key and meeting.conference_id are required", n)
		}
		for _, s := range []string{m.Meeting.ConferenceID, m.Meeting.Passcode} {
			for i := range len(s) {
				if s[i] < '0' || s[i] > '9' {
					return nil, fmt.Errorf("meetings line %d: %q is not digits", n, s)
				}
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("meetings: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("meetings: none")
	}
	return out, nil
}

// results collects the calls' outcomes.
type results struct {
	mu         sync.Mutex
	latency    []time.Duration // final # to the MCU's first packet
	gap        []time.Duration // the attendant's last packet to the MCU's first
	ok, failed int
	errs       errorCounts
	inConf     atomic.Int64
	peak       atomic.Int64
	unexpected atomic.Int64
}

func (r *results) fail(err error) {
	r.mu.Lock()
	r.failed++
	r.mu.Unlock()
	r.errs.add(err)
}

func run(c config, out io.Writer) error {
	f, err := os.Open(c.meetings)
	if err != nil {
		return err
	}
	meetings, err := readMeetings(f)
	_ = f.Close()
	if err != nil {
		return err
	}
	if c.calls <= 0 || c.rate <= 0 {
		return errors.New("-calls and -rate must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	res := &results{}
	ag, err := newAgent(ctx, quiet, func(m string) {
		res.unexpected.Add(1)
		res.errs.add(fmt.Errorf("(not a failure) in-dialog %s from the server", m))
	})
	if err != nil {
		return err
	}

	// The meetings' leaders, before any caller.
	stop := make(chan struct{})
	var leaders []*sipgo.DialogClientSession
	var streams []*stream
	defer func() {
		close(stop)
		for _, s := range streams {
			s.close()
		}
	}()
	tone := toneULaw(700)
	for i, m := range meetings {
		sess, st, err := joinLeader(ctx, ag, c, m, tone, stop)
		if err != nil {
			return fmt.Errorf("meeting %d (%s): enterprise participant: %w", i+1, m.Meeting.ConferenceID, err)
		}
		leaders = append(leaders, sess)
		streams = append(streams, st)
	}
	fmt.Fprintf(out, "dial-in load: %d enterprise participants joined; %d calls into %d meetings at %.1f/s\n",
		len(leaders), c.calls, len(meetings), c.rate)

	// The callers.
	settled := make(chan struct{})
	var pending sync.WaitGroup
	pending.Add(c.calls)
	go func() { pending.Wait(); close(settled) }()
	var calls sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / c.rate)
	for i := range c.calls {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		calls.Add(1)
		go func() {
			defer calls.Done()
			call(ctx, ag, c, i, meetings[i%len(meetings)], res, pending.Done, settled)
		}()
	}
	calls.Wait()
	for _, s := range leaders {
		bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Bye(bctx)
		bcancel()
		_ = s.Close()
	}
	report(out, c, len(meetings), res)
	if res.failed > 0 || res.ok != c.calls {
		return fmt.Errorf("%d of %d calls failed", c.calls-res.ok, c.calls)
	}
	return nil
}

// joinLeader joins a meeting's organizer to its audio on the A/V MCU,
// sending tone.
func joinLeader(ctx context.Context, ag *agent, c config, m meeting, tone []byte, stop <-chan struct{}) (*sipgo.DialogClientSession, *stream, error) {
	var org sip.Uri
	if err := sip.ParseUri(m.Organizer, &org); err != nil {
		return nil, nil, fmt.Errorf("organizer %q: %w", m.Organizer, err)
	}
	st, err := newStream(tone)
	if err != nil {
		return nil, nil, err
	}
	target := fmt.Sprintf("sip:%s@%s;gruu;opaque=app:conf:audio-video:id:%s", org.User, c.proxy, m.Meeting.Key)
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sess, err := ag.dial(jctx, target, m.Organizer, offer(st.port(), uint64(time.Now().UnixNano())), org.User, m.Password)
	if err != nil {
		st.close()
		return nil, nil, err
	}
	remote, err := answerMedia(sess.InviteResponse.Body(), false)
	if err != nil {
		st.close()
		return nil, nil, err
	}
	st.start(remote, stop)
	return sess, st, nil
}

// call is one caller, from INVITE to BYE. settle is called once, when the
// call has joined or failed; settled closes when every call has.
func call(ctx context.Context, ag *agent, c config, i int, m meeting, res *results, settle func(), settled <-chan struct{}) {
	var once sync.Once
	done := func() { once.Do(settle) }
	defer done()
	st, err := newStream(silenceULaw())
	if err != nil {
		res.fail(err)
		return
	}
	defer st.close()
	stop := make(chan struct{})
	defer close(stop)
	callerID := fmt.Sprintf("+1206555%04d", i%10000)
	target := fmt.Sprintf("sip:%s@%s;user=phone", c.number, c.mediation)
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	sess, err := ag.dial(dctx, target, "sip:"+callerID+"@127.0.0.1;user=phone", offer(st.port(), uint64(i)), "", "",
		sip.NewHeader("P-Asserted-Identity", "<tel:"+callerID+">"))
	dcancel()
	if err != nil {
		res.fail(errors.New(trimCallID(err.Error())))
		return
	}
	defer sess.Close()
	hangUp := func() {
		bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer bcancel()
		if sess.Context().Err() == nil {
			_ = sess.Bye(bctx)
		}
	}
	remote, err := answerMedia(sess.InviteResponse.Body(), true)
	if err != nil {
		res.fail(err)
		hangUp()
		return
	}
	st.start(remote, stop)

	wait := func(ch <-chan struct{}, d time.Duration, what string) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ch:
			return nil
		case <-sess.Context().Done():
			return fmt.Errorf("the server hung up while waiting for %s", what)
		case <-t.C:
			return fmt.Errorf("no %s within %v", what, d)
		case <-ctx.Done():
			return fmt.Errorf("run timeout while waiting for %s", what)
		}
	}
	if err := wait(st.rx.firstSeen, 10*time.Second, "audio from the attendant"); err != nil {
		res.fail(err)
		hangUp()
		return
	}
	time.Sleep(c.typeDelay)
	typed := func(keys string) error {
		ch := make(chan struct{})
		if err := st.typeKeys(keys, func() { close(ch) }); err != nil {
			return err
		}
		return wait(ch, 10*time.Second, "end of typing")
	}
	if err := typed(m.Meeting.ConferenceID + "#"); err != nil {
		res.fail(err)
		hangUp()
		return
	}
	time.Sleep(c.passcodeDelay)
	if err := typed(m.Meeting.Passcode + "#"); err != nil {
		res.fail(err)
		hangUp()
		return
	}
	st.mu.Lock()
	hash := st.finalEnd
	st.mu.Unlock()
	st.markKeysDone(hash)
	if err := wait(st.rx.switched, c.joinTimeout, "audio from the A/V MCU (a new SSRC)"); err != nil {
		res.fail(err)
		hangUp()
		return
	}
	st.rx.mu.Lock()
	lat, gap := st.rx.switchAt.Sub(hash), st.rx.switchAt.Sub(st.rx.lastOld)
	st.rx.mu.Unlock()
	n := res.inConf.Add(1)
	for p := res.peak.Load(); n > p && !res.peak.CompareAndSwap(p, n); p = res.peak.Load() {
	}
	done()

	// In the conference until everyone is, and -hold more.
	err = wait(settled, c.timeout, "the other calls")
	if err == nil {
		t := time.NewTimer(c.hold)
		select {
		case <-t.C:
		case <-sess.Context().Done():
			err = errors.New("the server hung up during the hold")
		case <-ctx.Done():
			err = errors.New("run timeout during the hold")
		}
		t.Stop()
	}
	res.inConf.Add(-1)
	if err == nil {
		st.rx.mu.Lock()
		loudN := st.rx.loud
		st.rx.mu.Unlock()
		if loudN == 0 {
			err = errors.New("the A/V MCU's packets carried no audio (the leader's tone)")
			fmt.Fprintf(os.Stderr, "call %d (meeting %s): no tone from the mix; since the switch: %s\n",
				i, m.Meeting.ConferenceID, st.rx.afterSwitch())
		}
	}
	hangUp()
	if err != nil {
		res.fail(err)
		return
	}
	res.mu.Lock()
	res.ok++
	res.latency = append(res.latency, lat)
	res.gap = append(res.gap, gap)
	res.mu.Unlock()
}

// trimCallID drops what makes two alike failures differ.
func trimCallID(s string) string {
	if i := strings.Index(s, "Call-ID"); i >= 0 {
		return s[:i]
	}
	return s
}

func report(out io.Writer, c config, meetings int, res *results) {
	lat, gap := summarize(res.latency), summarize(res.gap)
	fmt.Fprintf(out, "calls: %d ok, %d failed; peak %d callers in conference at once\n", res.ok, res.failed, res.peak.Load())
	fmt.Fprintf(out, "join latency (final # → first A/V MCU packet): %s\n", lat)
	fmt.Fprintf(out, "media gap (attendant's last packet → A/V MCU's first): %s\n", gap)
	for _, l := range res.errs.lines() {
		fmt.Fprintf(out, "error: %s\n", l)
	}
	fmt.Fprintf(out, "RESULT calls=%d meetings=%d ok=%d failed=%d join_p50_ms=%.1f join_p90_ms=%.1f join_p99_ms=%.1f join_max_ms=%.1f gap_p50_ms=%.1f gap_p99_ms=%.1f peak=%d unexpected_requests=%d\n",
		c.calls, meetings, res.ok, res.failed, lat.p50, lat.p90, lat.p99, lat.max, gap.p50, gap.p99, res.peak.Load(), res.unexpected.Load())
}
