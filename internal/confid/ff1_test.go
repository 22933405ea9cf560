package confid

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The FF1 samples NIST published with SP 800-38G (FF1samples.pdf, from the
// Cryptographic Standards and Guidelines examples): keys, tweaks, plaintexts
// and ciphertexts of samples 1–9. Radix-36 strings use the alphabet 0–9a–z.
var ff1Samples = []struct {
	name, key, tweak, pt, ct string
	radix                    int
}{
	{"sample1 AES-128", "2B7E151628AED2A6ABF7158809CF4F3C", "", "0123456789", "2433477484", 10},
	{"sample2 AES-128", "2B7E151628AED2A6ABF7158809CF4F3C", "39383736353433323130", "0123456789", "6124200773", 10},
	{"sample3 AES-128", "2B7E151628AED2A6ABF7158809CF4F3C", "3737373770717273373737", "0123456789abcdefghi", "a9tv40mll9kdu509eum", 36},
	{"sample4 AES-192", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "", "0123456789", "2830668132", 10},
	{"sample5 AES-192", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "39383736353433323130", "0123456789", "2496655549", 10},
	{"sample6 AES-192", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "3737373770717273373737", "0123456789abcdefghi", "xbj3kv35jrawxv32ysr", 36},
	{"sample7 AES-256", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "", "0123456789", "6657667009", 10},
	{"sample8 AES-256", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "39383736353433323130", "0123456789", "1001623463", 10},
	{"sample9 AES-256", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "3737373770717273373737", "0123456789abcdefghi", "xs8a0azh2avyalyzuwd", 36},
}

const alphabet36 = "0123456789abcdefghijklmnopqrstuvwxyz"

func numerals(t *testing.T, s string) []uint16 {
	t.Helper()
	out := make([]uint16, len(s))
	for i := range s {
		d := strings.IndexByte(alphabet36, s[i])
		if d < 0 {
			t.Fatalf("numeral %q not in the alphabet", s[i])
		}
		out[i] = uint16(d)
	}
	return out
}

func numeralString(x []uint16) string {
	var b strings.Builder
	for _, d := range x {
		b.WriteByte(alphabet36[d])
	}
	return b.String()
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFF1Samples(t *testing.T) {
	for _, tt := range ff1Samples {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFF1(mustHex(t, tt.key), tt.radix)
			if err != nil {
				t.Fatal(err)
			}
			tweak := mustHex(t, tt.tweak)
			pt := numerals(t, tt.pt)
			ct, err := f.Encrypt(pt, tweak)
			if err != nil {
				t.Fatal(err)
			}
			if got := numeralString(ct); got != tt.ct {
				t.Errorf("Encrypt(%s) = %s, want %s", tt.pt, got, tt.ct)
			}
			back, err := f.Decrypt(numerals(t, tt.ct), tweak)
			if err != nil {
				t.Fatal(err)
			}
			if got := numeralString(back); got != tt.pt {
				t.Errorf("Decrypt(%s) = %s, want %s", tt.ct, got, tt.pt)
			}
			if got := numeralString(pt); got != tt.pt {
				t.Errorf("Encrypt modified its input to %s", got)
			}
		})
	}
}

func TestFF1MinLen(t *testing.T) {
	tests := []struct{ radix, want int }{
		{2, 20}, {10, 6}, {16, 5}, {36, 4}, {100, 3}, {1000, 2}, {1 << 16, 2},
	}
	key := make([]byte, 16)
	for _, tt := range tests {
		f, err := NewFF1(key, tt.radix)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.MinLen(); got != tt.want {
			t.Errorf("radix %d: MinLen() = %d, want %d", tt.radix, got, tt.want)
		}
	}
}

func TestFF1RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, radix := range []int{2, 10, 11, 26, 36, 256, 1 << 16} {
		for _, keyLen := range []int{16, 24, 32} {
			key := make([]byte, keyLen)
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			f, err := NewFF1(key, radix)
			if err != nil {
				t.Fatal(err)
			}
			for n := f.MinLen(); n <= f.MinLen()+40; n++ {
				x := make([]uint16, n)
				for i := range x {
					x[i] = uint16(rng.IntN(radix))
				}
				tweak := make([]byte, rng.IntN(40))
				for i := range tweak {
					tweak[i] = byte(rng.Uint32())
				}
				ct, err := f.Encrypt(x, tweak)
				if err != nil {
					t.Fatalf("radix %d n %d: Encrypt: %v", radix, n, err)
				}
				for _, d := range ct {
					if int(d) >= radix {
						t.Fatalf("radix %d n %d: ciphertext numeral %d out of range", radix, n, d)
					}
				}
				pt, err := f.Decrypt(ct, tweak)
				if err != nil {
					t.Fatalf("radix %d n %d: Decrypt: %v", radix, n, err)
				}
				if !slices.Equal(pt, x) {
					t.Fatalf("radix %d n %d: Decrypt(Encrypt(%v)) = %v", radix, n, x, pt)
				}
			}
		}
	}
}

// TestFF1SmallMatchesBig checks the uint64 rounds against the math/big
// ones wherever both apply.
func TestFF1SmallMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, radix := range []int{2, 10, 36, 1000, 1 << 16} {
		key := make([]byte, 32)
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		f, err := NewFF1(key, radix)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for n := f.MinLen(); n <= 130; n++ {
			tweak := make([]byte, rng.IntN(20))
			if !f.params(n, tweak).small {
				break
			}
			for range 20 {
				x := make([]uint16, n)
				for i := range x {
					x[i] = uint16(rng.IntN(radix))
				}
				for _, enc := range []bool{true, false} {
					small := f.feistelSmall(x, f.params(n, tweak), enc)
					big := f.feistelBig(x, f.params(n, tweak), enc)
					if !slices.Equal(small, big) {
						t.Fatalf("radix %d n %d encrypt %v: uint64 rounds give %v, math/big %v", radix, n, enc, small, big)
					}
				}
			}
			checked++
		}
		if checked == 0 {
			t.Errorf("radix %d: no length takes the uint64 path", radix)
		}
	}
}

// TestFF1Permutation checks on the whole six-digit domain that encryption is
// a bijection: a million distinct outputs for a million inputs.
func TestFF1Permutation(t *testing.T) {
	if testing.Short() {
		t.Skip("encrypts a million strings")
	}
	f, err := NewFF1(make([]byte, 16), 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, 1_000_000)
	x := make([]uint16, 6)
	for v := range 1_000_000 {
		for i, r := 5, v; i >= 0; i, r = i-1, r/10 {
			x[i] = uint16(r % 10)
		}
		ct, err := f.Encrypt(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := 0
		for _, d := range ct {
			w = w*10 + int(d)
		}
		if seen[w] {
			t.Fatalf("Encrypt(%06d) = %06d, already produced by another input", v, w)
		}
		seen[w] = true
	}
}

func TestFF1Rejects(t *testing.T) {
	f, err := NewFF1(make([]byte, 16), 10)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		x     []uint16
		tweak []byte
	}{
		{"too short", make([]uint16, 5), nil},
		{"too long", make([]uint16, maxFF1Len+1), nil},
		{"numeral above radix", []uint16{0, 1, 2, 3, 4, 10}, nil},
		{"long tweak", make([]uint16, 6), make([]byte, maxFF1Tweak+1)},
	}
	for _, tt := range tests {
		if _, err := f.Encrypt(tt.x, tt.tweak); !errors.Is(err, ErrFF1) {
			t.Errorf("%s: Encrypt error = %v, want %v", tt.name, err, ErrFF1)
		}
		if _, err := f.Decrypt(tt.x, tt.tweak); !errors.Is(err, ErrFF1) {
			t.Errorf("%s: Decrypt error = %v, want %v", tt.name, err, ErrFF1)
		}
	}
	for _, radix := range []int{-1, 0, 1, 1<<16 + 1} {
		if _, err := NewFF1(make([]byte, 16), radix); !errors.Is(err, ErrFF1) {
			t.Errorf("NewFF1(radix %d) error = %v, want %v", radix, err, ErrFF1)
		}
	}
	for _, n := range []int{0, 15, 17, 33} {
		if _, err := NewFF1(make([]byte, n), 10); !errors.Is(err, ErrFF1) {
			t.Errorf("NewFF1(%d-byte key) error = %v, want %v", n, err, ErrFF1)
		}
	}
}

func BenchmarkFF1Encrypt10(b *testing.B) {
	f, err := NewFF1(mustHexB(b, ff1Samples[6].key), 10)
	if err != nil {
		b.Fatal(err)
	}
	x := []uint16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for b.Loop() {
		if _, err := f.Encrypt(x, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func mustHexB(b *testing.B, s string) []byte {
	b.Helper()
	k, err := hex.DecodeString(s)
	if err != nil {
		b.Fatal(err)
	}
	return k
}
