package c3p

import (
	"os"
	"path/filepath"
	"testing"
)

func benchParse(b *testing.B, path string) {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAddUser parses the join request every conference
// participant sends in its focus INVITE.
func BenchmarkParseAddUser(b *testing.B) { benchParse(b, "composed/request-addUser-join.xml") }

// BenchmarkParseAddUserDialIn parses an addUser with a dial-in endpoint.
func BenchmarkParseAddUserDialIn(b *testing.B) { benchParse(b, "composed/request-addUser-dialin.xml") }

// BenchmarkParseAddConference parses the [MS-CONFPRO] §4.1 example.
func BenchmarkParseAddConference(b *testing.B) { benchParse(b, "spec/request-addConference.xml") }

// BenchmarkParseAddConferenceDialIn parses an addConference with an
// invitee list.
func BenchmarkParseAddConferenceDialIn(b *testing.B) {
	benchParse(b, "composed/request-addConference-dialin.xml")
}

// BenchmarkMarshalAddConference encodes the parsed §4.1 example.
func BenchmarkMarshalAddConference(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "spec", "request-addConference.xml"))
	if err != nil {
		b.Fatal(err)
	}
	r, err := ParseRequest(body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
