package confid

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testKey is a fixed organization key; the golden IDs depend on it.
var testKey = []byte("parley test organization key 32b")

func newTestCodec(tb testing.TB, key []byte) *Codec {
	tb.Helper()
	c, err := NewCodec(key)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// randomSlot draws a pool ID of 2–9 digits and a valid width and local.
func randomSlot(rng *rand.Rand) (pool string, local uint64, width int) {
	b := make([]byte, MinPoolIDLen+rng.IntN(MaxPoolIDLen-MinPoolIDLen+1))
	for i := range b {
		b[i] = '0' + byte(rng.IntN(10))
	}
	width = MinWidth(len(b)) + rng.IntN(MaxWidth-MinWidth(len(b))+1)
	return string(b), rng.Uint64N(pow10[width]), width
}

func TestCodecRoundTrip(t *testing.T) {
	c := newTestCodec(t, testKey)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20_000 {
		pool, local, width := randomSlot(rng)
		id, err := c.Encode(pool, local, width)
		if err != nil {
			t.Fatalf("Encode(%q, %d, %d): %v", pool, local, width, err)
		}
		if got, want := len(id), IDLen(len(pool), width); got != want {
			t.Errorf("Encode(%q, %d, %d) = %q: %d digits, want %d", pool, local, width, id, got, want)
		}
		gotPool, gotLocal, gotWidth, err := c.Decode(id)
		if err != nil || gotPool != pool || gotLocal != local || gotWidth != width {
			t.Fatalf("Decode(%q) = %q, %d, %d, %v; want %q, %d, %d, nil",
				id, gotPool, gotLocal, gotWidth, err, pool, local, width)
		}
	}
}

// TestCodecEdges round-trips the extremes of every pool-ID length.
func TestCodecEdges(t *testing.T) {
	c := newTestCodec(t, testKey)
	for n := MinPoolIDLen; n <= MaxPoolIDLen; n++ {
		for _, pool := range []string{strings.Repeat("0", n), strings.Repeat("9", n)} {
			for _, width := range []int{MinWidth(n), MaxWidth} {
				for _, local := range []uint64{0, pow10[width] - 1} {
					id, err := c.Encode(pool, local, width)
					if err != nil {
						t.Fatalf("Encode(%q, %d, %d): %v", pool, local, width, err)
					}
					p, l, w, err := c.Decode(id)
					if err != nil || p != pool || l != local || w != width {
						t.Errorf("Decode(Encode(%q, %d, %d)) = %q, %d, %d, %v", pool, local, width, p, l, w, err)
					}
				}
			}
		}
	}
	if got, want := IDLen(2, MinWidth(2)), MinIDLen; got != want {
		t.Errorf("shortest ID has %d digits, want MinIDLen = %d", got, want)
	}
	if got, want := IDLen(MaxPoolIDLen, MaxWidth), MaxIDLen; got != want {
		t.Errorf("longest ID has %d digits, want MaxIDLen = %d", got, want)
	}
}

func TestMinWidth(t *testing.T) {
	tests := []struct{ poolIDLen, want, idLen int }{
		{2, 3, 7}, {3, 2, 7}, {4, 1, 7}, {5, 1, 8}, {6, 1, 9}, {9, 1, 12},
	}
	for _, tt := range tests {
		if got := MinWidth(tt.poolIDLen); got != tt.want {
			t.Errorf("MinWidth(%d) = %d, want %d", tt.poolIDLen, got, tt.want)
		}
		if got := IDLen(tt.poolIDLen, tt.want); got != tt.idLen {
			t.Errorf("IDLen(%d, %d) = %d, want %d", tt.poolIDLen, tt.want, got, tt.idLen)
		}
	}
}

// TestDecodeRejectsTypos mistypes issued IDs every way the check digit
// promises to catch, and expects ErrCheckDigit before any decryption.
func TestDecodeRejectsTypos(t *testing.T) {
	c := newTestCodec(t, testKey)
	rng := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		pool, local, width := randomSlot(rng)
		id, err := c.Encode(pool, local, width)
		if err != nil {
			t.Fatal(err)
		}
		assertCheckDigitDetects(t, id, func(s string) bool {
			_, _, _, err := c.Decode(s)
			if err != nil && !errors.Is(err, ErrCheckDigit) {
				t.Errorf("Decode(%q) error = %v, want %v", s, err, ErrCheckDigit)
			}
			return err == nil
		})
	}
}

// TestConsecutiveIDsUnrelated checks that the IDs of consecutive local
// portions look independent: neighbours share a leading digit about one
// time in ten, two leading digits about one in a hundred, and each position
// takes every digit about equally often.
func TestConsecutiveIDsUnrelated(t *testing.T) {
	c := newTestCodec(t, testKey)
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		id, err := c.Encode("42", uint64(i), 6)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	var share1, share2, differing int
	for i := 1; i < n; i++ {
		a, b := ids[i-1], ids[i]
		if a[0] == b[0] {
			share1++
			if a[1] == b[1] {
				share2++
			}
		}
		for j := range len(a) - 1 {
			if a[j] != b[j] {
				differing++
			}
		}
	}
	t.Logf("of %d consecutive pairs, %d share the first digit, %d the first two", n-1, share1, share2)
	// Chance gives ~100 and ~10; the bounds are about four standard
	// deviations wide.
	if share1 > 140 || share2 > 25 {
		t.Errorf("of %d consecutive pairs, %d share the first digit and %d the first two; want about 100 and 10",
			n-1, share1, share2)
	}
	// Chance makes 9 in 10 of the 9 FF1 digits differ: 8091 in all.
	if differing < 7950 {
		t.Errorf("consecutive IDs differ in %d digits in all, want about 8091", differing)
	}
	for pos := range len(ids[0]) - 1 {
		var counts [10]int
		for _, id := range ids {
			counts[id[pos]-'0']++
		}
		for d, k := range counts {
			if k < 55 || k > 150 {
				t.Errorf("digit %d appears %d times in %d at position %d, want about 100", d, k, n, pos)
			}
		}
	}
}

func TestDifferentKeysDifferentIDs(t *testing.T) {
	a := newTestCodec(t, testKey)
	other := bytes.Clone(testKey)
	other[0] ^= 1
	b := newTestCodec(t, other)
	same, foreign := 0, 0
	for i := range uint64(1000) {
		ida, err := a.Encode("42", i, 5)
		if err != nil {
			t.Fatal(err)
		}
		idb, err := b.Encode("42", i, 5)
		if err != nil {
			t.Fatal(err)
		}
		if ida == idb {
			same++
		}
		// The other organization decodes a's ID to something else, or
		// rejects it.
		p, l, w, err := b.Decode(ida)
		if err == nil && p == "42" && l == i && w == 5 {
			foreign++
		}
	}
	if same > 1 || foreign > 1 {
		t.Errorf("of 1000 IDs, %d are equal under two keys and %d decode alike; want about 0", same, foreign)
	}
}

func TestPoolsShareNothing(t *testing.T) {
	c := newTestCodec(t, testKey)
	seen := map[string]string{}
	for _, pool := range []string{"10", "11", "100", "010", "0100", "12345", "999999"} {
		for local := range uint64(200) {
			id, err := c.Encode(pool, local, 4)
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("%s/%d", pool, local)
			if prev, ok := seen[id]; ok {
				t.Fatalf("%s and %s both encode to %s", prev, key, id)
			}
			seen[id] = key
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	c := newTestCodec(t, testKey)
	tests := []struct {
		pool  string
		local uint64
		width int
		err   error
	}{
		{"1", 0, 5, ErrPoolID},
		{"", 0, 5, ErrPoolID},
		{"1234567890", 0, 5, ErrPoolID},
		{"4a", 0, 5, ErrPoolID},
		{"+42", 0, 5, ErrPoolID},
		{"42", 0, 2, ErrRange},
		{"42", 0, 0, ErrRange},
		{"42", 0, -1, ErrRange},
		{"42", 0, MaxWidth + 1, ErrRange},
		{"42", 1000, 3, ErrRange},
		{"4242", 10, 1, ErrRange},
	}
	for _, tt := range tests {
		if id, err := c.Encode(tt.pool, tt.local, tt.width); !errors.Is(err, tt.err) || id != "" {
			t.Errorf("Encode(%q, %d, %d) = %q, %v; want \"\", %v", tt.pool, tt.local, tt.width, id, err, tt.err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	c := newTestCodec(t, testKey)
	valid, err := c.Encode("42", 123, 4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, id string
		err      error
	}{
		{"empty", "", ErrSyntax},
		{"six digits", "123456", ErrSyntax},
		{"too long", strings.Repeat("1", MaxIDLen+1), ErrSyntax},
		{"letter", valid[:3] + "a" + valid[4:], ErrSyntax},
		{"space", " " + valid[1:], ErrSyntax},
		{"dash", valid[:3] + "-" + valid[4:], ErrSyntax},
		{"sign", "+" + valid[1:], ErrSyntax},
		{"fullwidth digit", "１" + valid[3:], ErrSyntax},
		{"check digit", valid[:len(valid)-1] + string('0'+(valid[len(valid)-1]-'0'+1)%10), ErrCheckDigit},
	}
	for _, tt := range tests {
		p, l, w, err := c.Decode(tt.id)
		if !errors.Is(err, tt.err) || p != "" || l != 0 || w != 0 {
			t.Errorf("%s: Decode(%q) = %q, %d, %d, %v; want zero values and %v", tt.name, tt.id, p, l, w, err, tt.err)
		}
	}
}

// TestDecodeMalformed feeds check-valid numbers that no Encode produced. A
// 7-digit one decrypts to a valid layout only when its length digit is 2, 3
// or 4 (the pool ID and at least one local digit must fit in six), so about
// 70% must come back ErrMalformed and the rest must re-encode to themselves.
func TestDecodeMalformed(t *testing.T) {
	c := newTestCodec(t, testKey)
	malformed := 0
	const n = 2000
	for i := range n {
		body := fmt.Sprintf("%06d", i*499)
		id := body + string(checkDigit(body))
		p, l, w, err := c.Decode(id)
		switch {
		case errors.Is(err, ErrMalformed):
			malformed++
		case err != nil:
			t.Fatalf("Decode(%q) error = %v, want nil or %v", id, err, ErrMalformed)
		default:
			again, err := c.Encode(p, l, w)
			if err != nil || again != id {
				t.Fatalf("Encode(Decode(%q)) = %q, %v", id, again, err)
			}
		}
	}
	t.Logf("%d of %d check-valid 7-digit numbers rejected as malformed", malformed, n)
	if malformed < n*65/100 || malformed > n*75/100 {
		t.Errorf("%d of %d random 7-digit IDs rejected as malformed, want about 70%%", malformed, n)
	}
}

func TestNewCodecKey(t *testing.T) {
	for _, n := range []int{0, 1, MinKeyLen - 1} {
		if _, err := NewCodec(make([]byte, n)); !errors.Is(err, ErrKey) {
			t.Errorf("NewCodec(%d bytes) error = %v, want %v", n, err, ErrKey)
		}
	}
	for _, n := range []int{MinKeyLen, 32, 64} {
		if _, err := NewCodec(make([]byte, n)); err != nil {
			t.Errorf("NewCodec(%d bytes) error = %v", n, err)
		}
	}
}

// TestCodecGolden pins the format: conference IDs are stored and printed in
// invitations, so an accidental change to the layout, the key derivation or
// FF1 must fail here rather than orphan every scheduled meeting.
func TestCodecGolden(t *testing.T) {
	c := newTestCodec(t, testKey)
	inputs := []struct {
		pool  string
		local uint64
		width int
	}{
		{"10", 0, 3}, {"10", 1, 3}, {"10", 2, 3}, {"10", 999, 3},
		{"10", 0, 4}, {"11", 0, 3}, {"42", 123, 4}, {"42", 4567, 5},
		{"007", 5, 2}, {"1234", 7, 1}, {"99999", 0, 1}, {"123456", 987654, 6},
		{"123456789", 123456789012345678, 18},
	}
	var b strings.Builder
	b.WriteString("# pool local width conference-id (key: testKey in confid_test.go)\n")
	for _, in := range inputs {
		id, err := c.Encode(in.pool, in.local, in.width)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %d %s\n", in.pool, in.local, in.width, id)
	}
	path := filepath.Join("testdata", "codec.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("conference IDs changed:\ngot:\n%swant:\n%s", got, want)
	}
	// Every golden line decodes back to its inputs.
	sc := bufio.NewScanner(bytes.NewReader(want))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		p, l, w, err := c.Decode(f[3])
		if err != nil || p != f[0] || strconv.FormatUint(l, 10) != f[1] || strconv.Itoa(w) != f[2] {
			t.Errorf("Decode(%s) = %s %d %d, %v; want %s %s %s", f[3], p, l, w, err, f[0], f[1], f[2])
		}
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// is exactly what Encode makes of the result.
func FuzzDecode(f *testing.F) {
	c := newTestCodec(f, testKey)
	for _, s := range []string{"", "1234567", "0000000", "12345678901234567890123456789", "12a4567", "１２３４５６７"} {
		f.Add(s)
	}
	for _, in := range []struct {
		pool  string
		local uint64
		width int
	}{{"42", 1, 3}, {"123456", 99, 6}, {"987654321", 1, 18}} {
		id, err := c.Encode(in.pool, in.local, in.width)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, l, w, err := c.Decode(s)
		if err != nil {
			if p != "" || l != 0 || w != 0 {
				t.Errorf("Decode(%q) = %q, %d, %d with error %v; want zero values", s, p, l, w, err)
			}
			return
		}
		again, err := c.Encode(p, l, w)
		if err != nil || again != s {
			t.Errorf("Encode(Decode(%q)) = %q, %v", s, again, err)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	c := newTestCodec(b, testKey)
	var i uint64
	for b.Loop() {
		if _, err := c.Encode("42", i%10_000, 4); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDecode(b *testing.B) {
	c := newTestCodec(b, testKey)
	id, err := c.Encode("42", 1234, 4)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, _, err := c.Decode(id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTypo measures the cost of turning away a mistyped ID, which
// stops at the check digit.
func BenchmarkDecodeTypo(b *testing.B) {
	c := newTestCodec(b, testKey)
	id, err := c.Encode("42", 1234, 4)
	if err != nil {
		b.Fatal(err)
	}
	typo := id[1:2] + id[0:1] + id[2:]
	if id[0] == id[1] {
		b.Skip("no transposition at the front of this ID")
	}
	for b.Loop() {
		if _, _, _, err := c.Decode(typo); !errors.Is(err, ErrCheckDigit) {
			b.Fatal(err)
		}
	}
}
