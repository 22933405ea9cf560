package sdpoa_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/parleyhq/parley/internal/media/sdpoa"
)

// An old gateway offers G.711 by static payload type, with only the DTMF
// format described; the MCU answers µ-law and keeps payload type 101.
func ExampleAnswer() {
	offer := []byte("v=0\r\n" +
		"o=GW 4711 1 IN IP4 198.51.100.5\r\n" +
		"s=SIP Call\r\n" +
		"c=IN IP4 198.51.100.5\r\n" +
		"t=0 0\r\n" +
		"m=audio 5004 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n")
	d, err := sdpoa.Parse(offer)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := sdpoa.Config{
		Session: sdpoa.NewSession("parley"),
		Addrs:   []netip.Addr{netip.MustParseAddr("203.0.113.5")},
		Port:    40000,
		Codecs: []sdpoa.Codec{
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
			{PayloadType: 101, Name: sdpoa.TelephoneEvent, ClockRate: 8000},
		},
	}
	_, res, err := sdpoa.Answer(d, cfg)
	switch {
	case errors.Is(err, sdpoa.ErrNoCommonCodec), errors.Is(err, sdpoa.ErrNoAudio):
		fmt.Println("488:", err)
		return
	case err != nil:
		fmt.Println("error:", err)
		return
	}
	fmt.Println(res.Codec, res.TelephoneEvent, res.TelephoneEvent.Events)
	fmt.Println(res.Remote, res.RemoteRTCP, res.Direction)
	// Output:
	// 0 PCMU/8000 101 telephone-event/8000 0-15
	// 198.51.100.5:5004 198.51.100.5:5005 sendrecv
}

// A caller puts the conference on hold; the MCU answers recvonly, and the
// SIP layer maps errors to 488 with the reason.
func ExampleAnswer_hold() {
	offer := []byte("v=0\r\no=- 7 8 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=audio 10002 RTP/AVP 8\r\na=sendonly\r\n")
	d, _ := sdpoa.Parse(offer)
	cfg := sdpoa.Config{
		Addrs:  []netip.Addr{netip.MustParseAddr("203.0.113.5")},
		Port:   40000,
		Codecs: []sdpoa.Codec{{PayloadType: 8, Name: "PCMA", ClockRate: 8000}},
	}
	_, res, err := sdpoa.Answer(d, cfg)
	fmt.Println(res.Direction, res.Direction.Sends(), err)
	// Output: recvonly false <nil>
}
