package confid

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestDammQuasigroup checks the properties the detection guarantees rest on:
// a Latin square (each digit once per row and column, so a substitution
// always changes the fold), a zero diagonal (so appending the fold zeroes
// it), and total anti-symmetry, (c∗x)∗y = (c∗y)∗x only when x = y (so
// swapping neighbours always changes the fold).
func TestDammQuasigroup(t *testing.T) {
	for i := range 10 {
		var row, col [10]bool
		for j := range 10 {
			if row[dammTable[i][j]] || col[dammTable[j][i]] {
				t.Fatalf("row or column %d repeats a digit", i)
			}
			row[dammTable[i][j]], col[dammTable[j][i]] = true, true
		}
		if dammTable[i][i] != 0 {
			t.Errorf("dammTable[%d][%d] = %d, want 0", i, i, dammTable[i][i])
		}
	}
	for c := range 10 {
		for x := range 10 {
			for y := range 10 {
				if x != y && dammTable[dammTable[c][x]][y] == dammTable[dammTable[c][y]][x] {
					t.Errorf("(%d∗%d)∗%d = (%d∗%d)∗%d", c, x, y, c, y, x)
				}
			}
		}
	}
}

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		in   string
		want byte
	}{
		{"", '0'},
		{"5", '9'},
		{"572", '4'},
		{"0000000", '0'},
		{"112946", '0'}, // 0→3→7→4→8→6→0, folded by hand
	}
	for _, tt := range tests {
		if got := checkDigit(tt.in); got != tt.want {
			t.Errorf("checkDigit(%q) = %c, want %c", tt.in, got, tt.want)
		}
		if !validCheckDigit(tt.in + string(tt.want)) {
			t.Errorf("validCheckDigit(%q) = false, want true", tt.in+string(tt.want))
		}
	}
}

// TestCheckDigitDetects tries every single-digit substitution and every
// adjacent transposition (check digit included) of many numbers.
func TestCheckDigitDetects(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n := 1 + rng.IntN(28)
		b := make([]byte, n)
		for i := range b {
			b[i] = '0' + byte(rng.IntN(10))
		}
		s := string(b) + string(checkDigit(string(b)))
		if !validCheckDigit(s) {
			t.Fatalf("validCheckDigit(%q) = false for its own check digit", s)
		}
		assertCheckDigitDetects(t, s, validCheckDigit)
	}
	// Luhn's blind spot: 09 ↔ 90.
	for _, s := range []string{"0" + "9", "9" + "0", "1090", "90123"} {
		c := s + string(checkDigit(s))
		assertCheckDigitDetects(t, c, validCheckDigit)
	}
}

// assertCheckDigitDetects checks that valid rejects every single-digit
// substitution and every transposition of unequal neighbours of s.
func assertCheckDigitDetects(t *testing.T, s string, valid func(string) bool) {
	t.Helper()
	b := []byte(s)
	for i := range b {
		orig := b[i]
		for d := byte('0'); d <= '9'; d++ {
			if d == orig {
				continue
			}
			b[i] = d
			if valid(string(b)) {
				t.Errorf("%s: substitution at %d giving %s passes", s, i, b)
			}
		}
		b[i] = orig
	}
	for i := 0; i+1 < len(b); i++ {
		if b[i] == b[i+1] {
			continue
		}
		b[i], b[i+1] = b[i+1], b[i]
		if valid(string(b)) {
			t.Errorf("%s: transposition at %d giving %s passes", s, i, b)
		}
		b[i], b[i+1] = b[i+1], b[i]
	}
}

// TestCheckDigitUniform checks that the check digit of random numbers takes
// every value about equally often: a skewed digit would carry information.
func TestCheckDigitUniform(t *testing.T) {
	var counts [10]int
	const n = 100_000
	for i := range n {
		counts[checkDigit(strconv.Itoa(1_000_000+i))-'0']++
	}
	for d, c := range counts {
		if c < n/10-n/50 || c > n/10+n/50 {
			t.Errorf("check digit %d appeared %d times in %d, want about %d", d, c, n, n/10)
		}
	}
}
