package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/sipx/trust"
	"github.com/parleyhq/parley/internal/store"
)

// TestMCUConference joins three parties to one meeting's audio on the A/V
// MCU: alice and bob with baresip, carol with SIPp. Each plays its own tone
// (700, 1300 and 1900 Hz). baresip records what it decodes: alice must
// hear bob's and carol's tones and not her own, bob alice's and carol's and
// not his. alice then types 4 7 # and the MCU must report exactly those
// digits, in order, from her RFC 4733 telephone-events.
func TestMCUConference(t *testing.T) {
	requireTools(t, "baresip", "sox", "sipp")
	srv := startParley(t, serverOptions{})
	alice := user{name: "alice", password: "alice-Secret-7", extension: "1001", display: "Alice"}
	bob := user{name: "bob", password: "bob-Secret-8", extension: "1002", display: "Bob"}
	carol := user{name: "carol", password: "carol-Secret-9", extension: "1003", display: "Carol"}
	srv.addUsers(t, alice, bob, carol)

	// alice schedules an open meeting with the scheduling client.
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:alice@"+srv.domain, "--password", alice.password,
		"--subject", "MCU test", "--json")
	var inv struct {
		Key string `json:"key"`
		URI string `json:"conference_uri"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.Key == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}
	host, port := srv.sipHostPort(t)
	// The A/V MCU URI of the meeting, dialed at the server's address.
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + inv.Key

	const aliceHz, bobHz, carolHz = 700, 1300, 1900
	work := t.TempDir()
	a := startBaresip(t, "alice", srv.run.SIPUDP, alice.password, makeTone(t, work, "alice", aliceHz))
	b := startBaresip(t, "bob", srv.run.SIPUDP, bob.password, makeTone(t, work, "bob", bobHz))

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	a.waitRegistered(ctx, t)
	b.waitRegistered(ctx, t)
	for _, c := range []*baresipClient{a, b} {
		if _, err := c.ctrl.command(ctx, "dial", target); err != nil {
			t.Fatalf("%s dial: %v", c.name, err)
		}
		if err := c.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, srv.logTail(30))
		}
	}

	// carol joins with SIPp, playing a µ-law WAV as RTP for 6 s.
	carolDir := t.TempDir()
	if out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law",
		filepath.Join(carolDir, "tone.wav"), "synth", "30", "sine", strconv.Itoa(carolHz), "vol", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	sipp := startSIPp(t, sippOptions{
		name: "carol", scenario: "mcu_join.xml", remote: srv.run.SIPUDP, workDir: carolDir,
		args: []string{"-inf", writeUsersCSV(t, carolDir, "carol.csv", carol), "-key", "target", target,
			"-m", "1", "-d", "6000"},
	})

	time.Sleep(2 * time.Second)
	for _, d := range []string{"4", "7", "#"} {
		if _, err := a.ctrl.command(ctx, "sndcode", d); err != nil {
			t.Fatalf("alice sndcode %s: %v", d, err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	// The Focus's mute (modifyEndpointMedia, ingress filter "block") over
	// the MCU's signed C3P/HTTP control: bob goes silent for everyone.
	if code, body := srv.mcuControl(t, `<modifyEndpointMedia><mediaKeys confEntity="`+xmlEscape(strings.Replace(target, "audio-video", "focus", 1))+
		`" userEntity="sip:bob@`+srv.domain+`" mediaId="1"/><ci:media xmlns:ci="urn:ietf:params:xml:ns:conference-info" id="1"><ci:type>audio</ci:type>`+
		`<msci:media-ingress-filter xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions">block</msci:media-ingress-filter></ci:media></modifyEndpointMedia>`); code != 200 || !strings.Contains(body, `code="success"`) {
		t.Fatalf("mute bob: HTTP %d\n%s", code, body)
	}
	sipp.wait(t).expect(t, 1)

	for _, c := range []*baresipClient{a, b} {
		if _, err := c.ctrl.command(ctx, "hangup", ""); err != nil {
			t.Fatalf("%s hangup: %v", c.name, err)
		}
		if err := c.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	a.stop(t)
	b.stop(t)

	checkHeardAll(t, a, []float64{bobHz, carolHz}, aliceHz)
	checkHeardAll(t, b, []float64{aliceHz, carolHz}, bobHz)
	checkMutedAtEnd(t, a, bobHz, carolHz)

	// The digits, in order, reported once each.
	var digits []string
	for _, line := range strings.Split(srv.logTail(400), "\n") {
		if strings.Contains(line, "A/V leg DTMF") && strings.Contains(line, "user=sip:alice@") {
			if i := strings.Index(line, "digit="); i >= 0 {
				digits = append(digits, strings.Fields(line[i+len("digit="):])[0])
			}
		}
	}
	if got := strings.Join(digits, ""); got != "47#" {
		t.Errorf("DTMF reported by the MCU = %q, want \"47#\"", got)
	}
}

// checkMutedAtEnd fails unless, in the last second before carol (SIPp)
// left, c heard carol but no longer muted's tone.
func checkMutedAtEnd(t *testing.T, c *baresipClient, muted, still float64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.recDir, "dump-*-dec.wav"))
	if len(files) != 1 {
		return // checkHeardAll reported it
	}
	audio, err := readWAV(files[0])
	if err != nil {
		return
	}
	n := audio.rate * toneBlock / 1000
	// Blocks where carol is heard: the last 10 of them are after the mute.
	var tail [][]float64
	for off := 0; off+n <= len(audio.samples); off += n {
		blk := audio.samples[off : off+n]
		if p := meanPower(blk); p > silenceLevel && goertzelPower(blk, still, audio.rate)/p > presentShare {
			tail = append(tail, blk)
		}
	}
	if len(tail) < 20 {
		t.Errorf("%s: carol heard in only %d blocks", c.name, len(tail))
		return
	}
	for i, blk := range tail[len(tail)-10:] {
		if share := goertzelPower(blk, muted, audio.rate) / meanPower(blk); share > 0.02 {
			t.Errorf("%s: %v Hz at %.1f%% of the power in block %d of the last second after the mute", c.name, muted, 100*share, i)
		}
	}
}

// checkHeardAll fails the test unless c's recording has every tone of want
// clearly in it and not unwanted (its own: a mix must be N−1).
func checkHeardAll(t *testing.T, c *baresipClient, want []float64, unwanted float64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.recDir, "dump-*-dec.wav"))
	if len(files) != 1 {
		t.Errorf("%s: %d decoded recordings, want 1: %v", c.name, len(files), files)
		return
	}
	audio, err := readWAV(files[0])
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	r := analyzeTones(audio, want, unwanted)
	t.Logf("%s heard: %v", c.name, r)
	for i, f := range want {
		if r.present[i] < 20 {
			t.Errorf("%s heard %v Hz in only %d blocks of 100 ms, want at least 20", c.name, f, r.present[i])
		}
	}
	if r.unwantedMax > 0.05 {
		t.Errorf("%s heard its own %v Hz at %.1f%% of the power: the mix is not N−1", c.name, unwanted, 100*r.unwantedMax)
	}
}

// xmlEscape escapes s for an XML attribute.
func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// mcuControl POSTs a C3P command to the server's A/V MCU control URL,
// signed as the front end's Focus with the organization's trust key.
func (s *parleyServer) mcuControl(t *testing.T, command string) (int, string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(s.dataDir, "parley.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org, err := db.Organization(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pools, err := db.Pools(ctx)
	if err != nil || len(pools) == 0 {
		t.Fatalf("pools: %v %v", pools, err)
	}
	body := []byte(`<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="9" from="sip:focus@` + s.domain +
		`" to="sip:avmcu@` + s.domain + `">` + command + `</request>`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.run.AdminURL+"/avmcu/c3p", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/cccp+xml")
	v, err := trust.Signer{Key: server.TrustKey(org.ConferenceKey), Service: "focus", Host: pools[0].FQDN}.SignHTTP(req.Method, req.URL.RequestURI(), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(trust.Header, v)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMCUInBandDTMF: a gateway that sends digits as tones in the audio.
// dave's baresip plays a recording of the keys 3 9 * (dual tones of
// 120 ms, ITU-T Q.23 frequencies); the MCU's in-band detector must report
// exactly those digits, once each, in order.
func TestMCUInBandDTMF(t *testing.T) {
	requireTools(t, "baresip")
	srv := startParley(t, serverOptions{})
	alice := user{name: "alice", password: "alice-Secret-7", extension: "1001"}
	dave := user{name: "dave", password: "dave-Secret-4", extension: "1004"}
	srv.addUsers(t, alice, dave)
	out := srv.cli(t, "meeting", "create", "--organizer", "sip:alice@"+srv.domain, "--password", alice.password, "--json")
	var inv struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.Key == "" {
		t.Fatalf("meeting create --json: %v\n%s", err, out)
	}
	host, port := srv.sipHostPort(t)
	target := "sip:alice@" + host + ":" + port + ";gruu;opaque=app:conf:audio-video:id:" + inv.Key

	// 1 s of silence, then each key: 120 ms of its two tones at about
	// -10 dBm0 each, 200 ms of silence; then silence to 10 s.
	keys := []struct {
		digit     string
		low, high float64
	}{{"3", 697, 1477}, {"9", 852, 1477}, {"*", 941, 1209}}
	const rate = 8000
	samples := make([]float64, rate)
	for _, k := range keys {
		for i := range rate * 120 / 1000 {
			x := float64(i) / rate
			samples = append(samples, 0.2*math.Sin(2*math.Pi*k.low*x)+0.2*math.Sin(2*math.Pi*k.high*x))
		}
		samples = append(samples, make([]float64, rate*200/1000)...)
	}
	samples = append(samples, make([]float64, 10*rate-len(samples))...)
	wav := filepath.Join(t.TempDir(), "dave.wav")
	if err := os.WriteFile(wav, encodeWAV(rate, samples, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startBaresip(t, "dave", srv.run.SIPUDP, dave.password, wav)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d.waitRegistered(ctx, t)
	if _, err := d.ctrl.command(ctx, "dial", target); err != nil {
		t.Fatalf("dave dial: %v", err)
	}
	if err := d.ctrl.waitEvent(ctx, "CALL_ESTABLISHED", 20*time.Second); err != nil {
		t.Fatalf("dave: %v\n%s", err, srv.logTail(30))
	}
	time.Sleep(3 * time.Second)
	if _, err := d.ctrl.command(ctx, "hangup", ""); err != nil {
		t.Fatalf("dave hangup: %v", err)
	}
	_ = d.ctrl.waitEvent(ctx, "CALL_CLOSED", 10*time.Second)

	var digits []string
	for _, line := range strings.Split(srv.logTail(400), "\n") {
		if strings.Contains(line, "A/V leg DTMF") && strings.Contains(line, "user=sip:dave@") {
			if !strings.Contains(line, "in_band=true") {
				t.Errorf("digit not reported as in-band: %s", line)
			}
			if i := strings.Index(line, "digit="); i >= 0 {
				digits = append(digits, strings.Fields(line[i+len("digit="):])[0])
			}
		}
	}
	if got := strings.Join(digits, ""); got != "39*" {
		t.Errorf("in-band DTMF reported by the MCU = %q, want \"39*\"", got)
	}
}
