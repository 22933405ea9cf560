package sdpoa

import (
	"net/netip"
	"strings"
	"testing"
)

// TestRealWorldOffers answers offers in the styles of deployed endpoints,
// each with a quirk, and checks what the MCU would do with them.
func TestRealWorldOffers(t *testing.T) {
	tests := []struct {
		name      string
		offer     string // lines separated by "~"
		codec     string
		events    string
		direction Direction
		remote    string
		srtp      bool
	}{
		{
			name: "Asterisk with many codecs and maxptime",
			offer: "v=0~o=root 1730651422 1730651422 IN IP4 192.0.2.50~s=Asterisk PBX 20.5.0~c=IN IP4 192.0.2.50~t=0 0~" +
				"m=audio 17236 RTP/AVP 9 0 8 3 111 101~a=rtpmap:9 G722/8000~a=rtpmap:0 PCMU/8000~a=rtpmap:8 PCMA/8000~" +
				"a=rtpmap:3 GSM/8000~a=rtpmap:111 G726-32/8000~a=rtpmap:101 telephone-event/8000~a=fmtp:101 0-16~a=ptime:20~a=maxptime:150~a=sendrecv",
			codec: "9 G722/8000", events: "0-15", direction: SendRecv, remote: "192.0.2.50:17236",
		},
		{
			name: "FreeSWITCH late re-INVITE with rtcp attribute",
			offer: "v=0~o=FreeSWITCH 1730600000 1730600002 IN IP4 192.0.2.60~s=FreeSWITCH~c=IN IP4 192.0.2.60~t=0 0~" +
				"m=audio 24580 RTP/AVP 8 101~a=rtpmap:8 PCMA/8000~a=rtpmap:101 telephone-event/8000~a=fmtp:101 0-16~a=ptime:20~a=rtcp:24581 IN IP4 192.0.2.60",
			codec: "8 PCMA/8000", events: "0-15", direction: SendRecv, remote: "192.0.2.60:24580",
		},
		{
			name: "Cisco gateway with G.729 first and a media-level c=",
			offer: "v=0~o=CiscoSystemsSIP-GW-UserAgent 7283 2633 IN IP4 198.51.100.14~s=SIP Call~c=IN IP4 198.51.100.14~t=0 0~" +
				"m=audio 17758 RTP/AVP 18 0 8 101 19~c=IN IP4 198.51.100.15~a=rtpmap:18 G729/8000~a=fmtp:18 annexb=no~a=rtpmap:0 PCMU/8000~" +
				"a=rtpmap:8 PCMA/8000~a=rtpmap:101 telephone-event/8000~a=fmtp:101 0-16~a=rtpmap:19 CN/8000~a=ptime:20",
			codec: "0 PCMU/8000", events: "0-15", direction: SendRecv, remote: "198.51.100.15:17758",
		},
		{
			name: "Polycom phone with SRTP on RTP/SAVP and two suites",
			offer: "v=0~o=- 1730651987 1730651987 IN IP4 192.0.2.70~s=Polycom IP Phone~c=IN IP4 192.0.2.70~t=0 0~a=sendrecv~" +
				"m=audio 2222 RTP/SAVP 9 0 8 18 127~a=rtpmap:9 G722/8000~a=rtpmap:0 PCMU/8000~a=rtpmap:8 PCMA/8000~a=rtpmap:18 G729/8000~" +
				"a=fmtp:18 annexb=no~a=rtpmap:127 telephone-event/8000~" +
				"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2VjcmV0LWtleS1mb3ItdGVzdGluZy1vbmx5LTEyMzQ1~" +
				"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:c2VjcmV0LWtleS1mb3ItdGVzdGluZy1vbmx5LTEyMzQ1",
			codec: "9 G722/8000", events: "0-15", direction: SendRecv, remote: "192.0.2.70:2222", srtp: true,
		},
		{
			name: "OCS 2007 R2 client: RTP/AVP with keys and encryption required",
			offer: "v=0~o=- 0 1 IN IP4 198.51.100.80~s=session~c=IN IP4 198.51.100.80~b=CT:99980~t=0 0~" +
				"m=audio 28492 RTP/AVP 114 111 112 115 116 4 8 0 97 101~" +
				"a=candidate:1 1 UDP 2130706431 198.51.100.80 28492 typ host~a=x-ssrc-range:2930000000-2930000000~" +
				"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YW5vdGhlci10ZXN0LWtleS1mb3ItdGhlLW1jdS0xMjM0|2^31|1:1~" +
				"a=encryption:required~a=maxptime:200~a=rtcp:28493~a=rtpmap:114 x-msrta/16000~a=fmtp:114 bitrate=29000~" +
				"a=rtpmap:111 SIREN/16000~a=fmtp:111 bitrate=16000~a=rtpmap:112 G7221/16000~a=fmtp:112 bitrate=24000~" +
				"a=rtpmap:115 x-msrta/8000~a=fmtp:115 bitrate=11800~a=rtpmap:116 AAL2-G726-32/8000~a=rtpmap:4 G723/8000~" +
				"a=rtpmap:8 PCMA/8000~a=rtpmap:0 PCMU/8000~a=rtpmap:97 RED/8000~a=rtpmap:101 telephone-event/8000~a=fmtp:101 0-16",
			codec: "8 PCMA/8000", events: "0-15", direction: SendRecv, remote: "198.51.100.80:28492", srtp: true,
		},
		{
			name: "SBC with session-level direction and no DTMF",
			offer: "v=0~o=SBC 123 456 IN IP4 203.0.113.90~s=-~c=IN IP4 203.0.113.90~t=0 0~a=recvonly~" +
				"m=audio 40100 RTP/AVP 8 0",
			codec: "8 PCMA/8000", events: "", direction: SendOnly, remote: "203.0.113.90:40100",
		},
		{
			name: "WebRTC gateway with RTP/SAVPF, rtcp-mux and ICE lines",
			offer: "v=0~o=- 4611731400430051336 2 IN IP4 127.0.0.1~s=-~t=0 0~a=group:BUNDLE 0~a=msid-semantic: WMS~" +
				"m=audio 9 RTP/SAVPF 111 9 0 8 110 126~c=IN IP4 203.0.113.91~a=rtcp:9 IN IP4 0.0.0.0~a=ice-ufrag:aBcD~" +
				"a=ice-pwd:0123456789abcdefghijklmn~a=mid:0~a=sendrecv~a=rtcp-mux~a=rtpmap:111 opus/48000/2~a=fmtp:111 minptime=10;useinbandfec=1~" +
				"a=rtpmap:9 G722/8000~a=rtpmap:0 PCMU/8000~a=rtpmap:8 PCMA/8000~a=rtpmap:110 telephone-event/48000~a=rtpmap:126 telephone-event/8000~" +
				"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2VjcmV0LWtleS1mb3ItdGVzdGluZy1vbmx5LTEyMzQ1",
			codec: "9 G722/8000", events: "0-15", direction: SendRecv, remote: "203.0.113.91:9", srtp: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, lines(strings.Split(tt.offer, "~")...))
			answer, res, err := Answer(d, mcuConfig())
			if err != nil {
				t.Fatalf("Answer: %v", err)
			}
			if got := res.Codec.String(); got != tt.codec {
				t.Errorf("codec: got %q, want %q", got, tt.codec)
			}
			if got := res.TelephoneEvent.Events.String(); got != tt.events {
				t.Errorf("events: got %q, want %q", got, tt.events)
			}
			if res.Direction != tt.direction || res.SRTP != tt.srtp {
				t.Errorf("direction %v srtp %v, want %v %v", res.Direction, res.SRTP, tt.direction, tt.srtp)
			}
			if res.Remote != netip.MustParseAddrPort(tt.remote) {
				t.Errorf("remote: got %v, want %s", res.Remote, tt.remote)
			}
			back := mustParse(t, answer)
			if s := back.Streams[res.Stream]; s.Proto != d.Streams[res.Stream].Proto || len(back.Streams) != len(d.Streams) {
				t.Errorf("answer transport %s, %d streams", s.Proto, len(back.Streams))
			}
		})
	}
}

// TestSessionAcrossRoles follows one dialog in which the MCU answers, then
// offers twice: every description keeps the session id, the version grows
// by one per change only, and the m= line count never shrinks.
func TestSessionAcrossRoles(t *testing.T) {
	cfg := mcuConfig()
	offer := mustParse(t, withHead("m=audio 4000 RTP/AVP 0", "m=video 0 RTP/AVP 31"))
	var versions []uint64
	record := func(body []byte) {
		d := mustParse(t, body)
		if d.Origin.SessionID != 4242 || len(d.Streams) != 2 {
			t.Fatalf("description:\n%s", body)
		}
		versions = append(versions, d.Origin.Version)
	}
	body, _, err := Answer(offer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	record(body)
	for _, dir := range []Direction{SendRecv, SendRecv, SendOnly} {
		cfg.Direction = dir
		if body, err = Offer(cfg); err != nil {
			t.Fatal(err)
		}
		record(body)
	}
	// The first re-offer lists all our codecs where the answer had one:
	// a change. Repeating it is not. Going on hold is.
	want := []uint64{1, 2, 2, 3}
	for i := range want {
		if versions[i] != want[i] {
			t.Fatalf("versions: got %v, want %v", versions, want)
		}
	}
}
