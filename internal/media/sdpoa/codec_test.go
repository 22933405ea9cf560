package sdpoa

import "testing"

func TestEvents(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0-15", "0-15", true},
		{"0-15,66,70", "0-15,66,70", true},
		{"0-16", "0-16", true},
		{"5,3,4,0-1", "0-1,3-5", true},
		{"events=0-15", "0-15", true},
		{"255", "255", true},
		{"0-255", "0-255", true},
		{"", "", false},
		{"0-", "", false},
		{"-3", "", false},
		{"15-0", "", false},
		{"1-2-3", "", false},
		{"256", "", false},
		{"1,,2", "", false},
		{"0-15,", "", false},
	}
	for _, tt := range tests {
		s, ok := ParseEvents(tt.in)
		if ok != tt.ok || s.String() != tt.want {
			t.Errorf("ParseEvents(%q): got %q %v, want %q %v", tt.in, s.String(), ok, tt.want, tt.ok)
		}
	}
	if DTMFEvents.String() != "0-15" || !DTMFEvents.Has(15) || DTMFEvents.Has(16) {
		t.Errorf("DTMFEvents: %q", DTMFEvents.String())
	}
	all, _ := ParseEvents("0-255")
	if got := all.Intersect(DTMFEvents); got != DTMFEvents {
		t.Errorf("Intersect: got %q", got.String())
	}
	if !(EventSet{}).Empty() || DTMFEvents.Empty() {
		t.Error("Empty")
	}
}

func TestStaticCodec(t *testing.T) {
	for pt, want := range map[uint8]string{0: "0 PCMU/8000", 8: "8 PCMA/8000", 9: "9 G722/8000", 10: "10 L16/44100/2", 18: "18 G729/8000", 34: "34 H263/90000"} {
		c, ok := StaticCodec(pt)
		if !ok || c.String() != want {
			t.Errorf("StaticCodec(%d): got %q %v, want %q", pt, c.String(), ok, want)
		}
	}
	for _, pt := range []uint8{1, 2, 19, 35, 96, 127, 255} {
		if c, ok := StaticCodec(pt); ok {
			t.Errorf("StaticCodec(%d): got %v, want none", pt, c)
		}
	}
}

func TestCodecIs(t *testing.T) {
	pcmu := Codec{Name: "PCMU", ClockRate: 8000}
	tests := []struct {
		a, b Codec
		want bool
	}{
		{pcmu, Codec{PayloadType: 0, Name: "pcmu", ClockRate: 8000, Channels: 1}, true},
		{pcmu, Codec{Name: "PCMU", ClockRate: 16000}, false},
		{pcmu, Codec{Name: "PCMU", ClockRate: 8000, Channels: 2}, false},
		{pcmu, Codec{Name: "PCMA", ClockRate: 8000}, false},
		{Codec{}, Codec{}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Is(tt.b); got != tt.want {
			t.Errorf("%v.Is(%v): got %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRtpmap(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"0 PCMU/8000", "0 PCMU/8000", true},
		{"96 opus/48000/2", "96 opus/48000/2", true},
		{"  101   telephone-event/8000 ", "101 telephone-event/8000", true},
		{"96 opus", "", false},
		{"96 opus/0", "", false},
		{"96 opus/48000/0", "", false},
		{"96 opus/48000/2/1", "", false},
		{"128 x/8000", "", false},
		{"96 /8000", "", false},
		{"x PCMU/8000", "", false},
	}
	for _, tt := range tests {
		c, ok := parseRtpmap(tt.in)
		if ok != tt.ok || (ok && c.String() != tt.want) {
			t.Errorf("parseRtpmap(%q): got %q %v, want %q %v", tt.in, c.String(), ok, tt.want, tt.ok)
		}
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		d, reverse Direction
		name       string
	}{
		{SendRecv, SendRecv, "sendrecv"},
		{SendOnly, RecvOnly, "sendonly"},
		{RecvOnly, SendOnly, "recvonly"},
		{Inactive, Inactive, "inactive"},
	}
	for _, tt := range tests {
		if got := tt.d.Reverse(); got != tt.reverse {
			t.Errorf("%v.Reverse(): got %v, want %v", tt.d, got, tt.reverse)
		}
		if got := tt.d.String(); got != tt.name {
			t.Errorf("String: got %q, want %q", got, tt.name)
		}
		if got, ok := parseDirection(tt.name); !ok || got != tt.d {
			t.Errorf("parseDirection(%q): got %v %v", tt.name, got, ok)
		}
		if got := tt.d.Intersect(SendRecv); got != tt.d {
			t.Errorf("%v.Intersect(sendrecv): got %v", tt.d, got)
		}
		if got := tt.d.Intersect(Inactive); got != Inactive {
			t.Errorf("%v.Intersect(inactive): got %v", tt.d, got)
		}
	}
	if got := SendOnly.Intersect(RecvOnly); got != Inactive {
		t.Errorf("sendonly ∩ recvonly: got %v", got)
	}
	if Direction(0).String() != "unknown" {
		t.Error("zero Direction")
	}
	if _, ok := parseDirection("sendRecv"); ok {
		t.Error("direction names are case-sensitive (RFC 4566 §6)")
	}
}
