package pcap

import (
	"fmt"
	"path"
	"strings"
)

// The leader's path of the dial-in (seed 001 step 8, "Leaders press *"):
// after the conference ID the caller presses *, types his extension and
// #, then his PIN and #; a wrong PIN asks for the extension again. Each
// attempt is one capture in slots of its own, after every slot of the
// call scenario's, so that the keys of one call keep rising sequence
// numbers and timestamps (see the package comment).
const (
	// PINExtension is the extension dialin_pin.xml types.
	PINExtension = "1002"
	// RightPIN and WrongPIN are the PINs it types: the test gives the
	// user RightPIN. Neither is a run or one repeated digit
	// (directory.ValidatePIN).
	RightPIN = "50863"
	WrongPIN = "13579"
	// PINAttempts is how many attempts dialin_pin.xml can type in one
	// call: the attendant's attempts per step (attendant.DefaultMaxAttempts).
	PINAttempts = 3
	// PINDir is where the PIN captures go, relative to test/sipp: apart
	// from Dir, whose contents Files owns.
	PINDir = "pcap/pin"
	// pinSlot is the first slot of the PIN attempts; pinSlotsPerAttempt
	// holds the longest attempt (*, extension, #, PIN, #).
	pinSlot            = 64
	pinSlotsPerAttempt = 16
	// pinAnswerMillis is the wait after an attempt: the front end checks
	// the PIN before the next keys may come, since keys typed before the
	// answer are dropped with the wrong entry (attendant.Flow.retry).
	pinAnswerMillis = 2000
)

// pinKinds are the PINs an attempt may type.
var pinKinds = map[string]string{"wrong": WrongPIN, "right": RightPIN}

// pinAttemptKeys is what attempt n (1-based) types: the first starts with
// the leader's *, the others answer "enter your extension" again.
func pinAttemptKeys(n int, pin string) string {
	keys := PINExtension + "#" + pin + "#"
	if n == 1 {
		keys = "*" + keys
	}
	return keys
}

// pinName is the capture of attempt n typing PIN kind kind.
func pinName(kind string, n int) string {
	return path.Join(PINDir, fmt.Sprintf("%s_%d.pcap", kind, n))
}

// PINFiles returns every file of the leader's path, by path relative to
// test/sipp: the captures of each attempt and kind, and dialin_pin.xml.
func PINFiles() (map[string][]byte, error) {
	out := make(map[string][]byte)
	for kind, pin := range pinKinds {
		for n := 1; n <= PINAttempts; n++ {
			b, err := captureKeys([]byte(pinAttemptKeys(n, pin)), pinSlot+(n-1)*pinSlotsPerAttempt)
			if err != nil {
				return nil, err
			}
			out[pinName(kind, n)] = b
		}
	}
	out["dialin_pin.xml"] = []byte(pinScenario())
	return out, nil
}

// captureKeys is the capture of presses typed keyGapMillis apart from
// slot slot0 on.
func captureKeys(presses []byte, slot0 int) ([]byte, error) {
	var pkts []rtpPacket
	for i, k := range presses {
		p, err := pressPacketsFor(slot0+i, k)
		if err != nil {
			return nil, err
		}
		for j := range p {
			p[j].atMillis += i * keyGapMillis
		}
		pkts = append(pkts, p...)
	}
	var b strings.Builder
	if err := writeCapture(&b, pkts); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// pinScenario types the conference ID, then up to PINAttempts leader
// attempts, and either waits for the attendant's BYE or stays in the
// meeting and hangs up.
func pinScenario() string {
	var b strings.Builder
	fmt.Fprintf(&b, scenarioHead, fmt.Sprintf(`  A meeting's leader dials in (seed 001 step 8): INVITE to the access
  number (-s NUMBER) at the Mediation Server, answer, ACK; after 2 s of the
  welcome, types the conference ID (-key confid DIGITS) and #, then
  -key attempts N (1 to %d) times his extension %s, #, a PIN and # (the
  first time after *), as RFC 4733 telephone-events from pcap/pin/KIND_N.pcap,
  waiting %d ms after each for the front end's answer. -key pinkind wrong types
  %s, -key pinkind right %s. Then, with -key ending bye, the attendant must
  hang up within 15 s (the refusal and goodbye prompts) and is answered
  200; with -key ending stay, the caller stays -d milliseconds (in the
  meeting) and hangs up: BYE, 200.
  play_pcap_audio sends from a raw socket: SIPp must run as root.`,
		PINAttempts, PINExtension, pinAnswerMillis, WrongPIN, RightPIN), "dial-in leader with extension and PIN")
	b.WriteString(`
  <nop>
    <action>
      <assignstr assign_to="id" value="[confid]"/>
      <assignstr assign_to="plan" value="[pinkind][attempts]"/>
      <assignstr assign_to="ending" value="[ending]"/>
      <ereg regexp="^bye$" search_in="var" variable="ending" assign_to="bye"/>
      <ereg regexp="^stay$" search_in="var" variable="ending" assign_to="stay"/>
`)
	// One flag per attempt and kind (condexec tests one variable): the
	// plan is the kind followed by the number of attempts.
	for n := 1; n <= PINAttempts; n++ {
		fmt.Fprintf(&b, "      <ereg regexp=\"^(right|wrong)[%d-%d]$\" search_in=\"var\" variable=\"plan\" assign_to=\"a%d\"/>\n", n, PINAttempts, n)
		for _, kind := range []string{"right", "wrong"} {
			fmt.Fprintf(&b, "      <ereg regexp=\"^%s[%d-%d]$\" search_in=\"var\" variable=\"plan\" assign_to=\"%s%d\"/>\n", kind, n, PINAttempts, kind, n)
		}
	}
	b.WriteString("    </action>\n  </nop>\n")
	typeEntry(&b, "conference ID", "id", confIDSlot, confIDPound)
	b.WriteString("\n  <!-- The front end looks the meeting up; the * may be typed ahead. -->\n  <pause milliseconds=\"500\"/>\n")
	for n := 1; n <= PINAttempts; n++ {
		fmt.Fprintf(&b, "\n  <!-- Attempt %d: %s; then the front end checks the PIN. -->\n", n, pinAttemptKeys(n, "PIN"))
		for _, kind := range []string{"right", "wrong"} {
			fmt.Fprintf(&b, "  <nop condexec=\"%s%d\"><action><exec play_pcap_audio=\"%s\"/></action></nop>\n",
				kind, n, pinName(kind, n))
		}
		fmt.Fprintf(&b, "  <pause milliseconds=\"%d\" condexec=\"a%d\"/>\n",
			len(pinAttemptKeys(n, WrongPIN))*keyGapMillis+pinAnswerMillis, n)
	}
	b.WriteString(`
  <!-- ending bye: refused; the reason, goodbye, and the attendant's BYE through the Mediation Server. -->
  <recv request="BYE" timeout="15000" condexec="bye"/>

  <send condexec="bye">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:gw@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>

  <!-- ending stay: in the meeting for -d milliseconds, then the caller hangs up. -->
  <pause condexec="stay"/>
`)
	b.WriteString(strings.Replace(strings.Replace(hangUp, "<send retrans=\"500\">", "<send retrans=\"500\" condexec=\"stay\">", 1),
		"<recv response=\"200\"/>", "<recv response=\"200\" condexec=\"stay\"/>", 1))
	return b.String()
}
