package confid

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNewMeetingID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := NewMeetingID(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != MeetingIDLen || strings.ToLower(id) != id || CheckMeetingID(id) != nil {
			t.Fatalf("NewMeetingID() = %q, want 32 lowercase hexadecimal characters", id)
		}
		if seen[id] {
			t.Fatalf("NewMeetingID() repeated %q", id)
		}
		seen[id] = true
	}

	src := bytes.NewReader([]byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0xfe, 0xff})
	if id, err := NewMeetingID(src); err != nil || id != "000102030405060708090a0b0c0dfeff" {
		t.Errorf("NewMeetingID(fixed bytes) = %q, %v; want 000102030405060708090a0b0c0dfeff", id, err)
	}
	if id, err := NewMeetingID(bytes.NewReader(make([]byte, 15))); !errors.Is(err, io.ErrUnexpectedEOF) || id != "" {
		t.Errorf("NewMeetingID(15 bytes) = %q, %v; want %v", id, err, io.ErrUnexpectedEOF)
	}
}

func TestCheckMeetingID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", true},
		{"0123456789abcde", false},
		{"0123456789abcdef0123456789abcdef0", false},
		{"0123456789abcdeg", false},
		{"0123456789abcde ", false},
		{"{0123456789abcdef}", false},
		{"", false},
	}
	for _, tt := range tests {
		err := CheckMeetingID(tt.id)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrMeetingID)) {
			t.Errorf("CheckMeetingID(%q) = %v, want ok %v", tt.id, err, tt.ok)
		}
	}
}
