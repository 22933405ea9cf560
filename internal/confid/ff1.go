package confid

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"
)

// FF1 limits. SP 800-38G Rev. 1 asks radix^minlen ≥ 1,000,000 (the 2016
// text asked only 100; the bound was raised after published attacks on
// small domains). maxlen is the implementation's choice below 2^32:
// conference IDs need fewer than 30 numerals, and a small bound keeps the
// cost of a hostile input small.
const (
	minFF1Domain = 1_000_000
	maxFF1Len    = 1024
	maxFF1Tweak  = 256
	ff1Rounds    = 10
)

// FF1 is the FF1 format-preserving encryption mode of NIST SP 800-38G
// (Algorithms 7 and 8) with AES (FIPS 197) as the block cipher: a keyed permutation of the numeral
// strings of each length n in [MinLen, 1024], for one radix. It is safe for
// concurrent use.
type FF1 struct {
	block  cipher.Block
	radix  uint32
	minLen int
}

// NewFF1 returns FF1 over the given radix (2 to 65536), keyed with an AES
// key of 16, 24 or 32 bytes.
func NewFF1(key []byte, radix int) (*FF1, error) {
	if radix < 2 || radix > 1<<16 {
		return nil, fmt.Errorf("%w: radix %d outside [2, 65536]", ErrFF1, radix)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFF1, err)
	}
	// minlen is the smallest length ≥ 2 whose domain has at least a
	// million members (SP 800-38G Rev. 1): 6 numerals in radix 10.
	minLen, size := 2, uint64(radix)*uint64(radix)
	for size < minFF1Domain {
		minLen++
		size *= uint64(radix)
	}
	return &FF1{block: block, radix: uint32(radix), minLen: minLen}, nil
}

// MinLen is the shortest numeral string the mode accepts for its radix.
func (f *FF1) MinLen() int { return f.minLen }

// Encrypt returns the encryption of the numeral string x under tweak
// (SP 800-38G Algorithm 7). Each numeral must be below the radix. x is not
// modified.
func (f *FF1) Encrypt(x []uint16, tweak []byte) ([]uint16, error) {
	return f.crypt(x, tweak, true)
}

// Decrypt inverts Encrypt (SP 800-38G Algorithm 8).
func (f *FF1) Decrypt(x []uint16, tweak []byte) ([]uint16, error) {
	return f.crypt(x, tweak, false)
}

func (f *FF1) crypt(x []uint16, tweak []byte, encrypt bool) ([]uint16, error) {
	n, t := len(x), len(tweak)
	if n < f.minLen || n > maxFF1Len {
		return nil, fmt.Errorf("%w: length %d outside [%d, %d]", ErrFF1, n, f.minLen, maxFF1Len)
	}
	if t > maxFF1Tweak {
		return nil, fmt.Errorf("%w: tweak of %d bytes exceeds %d", ErrFF1, t, maxFF1Tweak)
	}
	for i, d := range x {
		if uint32(d) >= f.radix {
			return nil, fmt.Errorf("%w: numeral %d at %d is not below radix %d", ErrFF1, d, i, f.radix)
		}
	}

	pr := f.params(n, tweak)
	if pr.small {
		return f.feistelSmall(x, pr, encrypt), nil
	}
	return f.feistelBig(x, pr, encrypt), nil
}

// ff1Params are the per-call values of SP 800-38G Algorithm 7, steps 1–5.
type ff1Params struct {
	u, v int    // lengths of the halves A and B
	b, d int    // byte lengths of NUM(B) in Q and of the round output S
	macP []byte // CIPH(P): the CBC-MAC state after the first block
	q    []byte // Q with the tweak and padding in place
	at   int    // offset in q of the round number; NUM(B) follows it
	// small is set when radix^v < 2^63: the halves fit a uint64 with room
	// for one addition, and S has at most 12 bytes (b ≤ 8), so y mod
	// radix^m can be taken from it with bits.Rem64.
	small bool
}

// params computes the ff1Params of an n-numeral input under tweak.
func (f *FF1) params(n int, tweak []byte) ff1Params {
	t := len(tweak)
	// Steps 1–4. b is ⌈⌈v·log2(radix)⌉/8⌉, computed exactly as the bit
	// length of radix^v − 1 so that powers-of-two radices come out right.
	u := n / 2
	v := n - u
	var b int
	modV, fits := powUint64(f.radix, v)
	if fits {
		b = (bits.Len64(modV-1) + 7) / 8
	} else {
		m := new(big.Int).Exp(new(big.Int).SetUint64(uint64(f.radix)), big.NewInt(int64(v)), nil)
		b = (m.Sub(m, big.NewInt(1)).BitLen() + 7) / 8
	}
	d := 4*((b+3)/4) + 4

	// Step 5: P, the first block of every round's PRF input.
	var p [aes.BlockSize]byte
	p[0], p[1], p[2] = 1, 2, 1
	p[3], p[4], p[5] = byte(f.radix>>16), byte(f.radix>>8), byte(f.radix)
	p[6], p[7] = ff1Rounds, byte(u)
	binary.BigEndian.PutUint32(p[8:12], uint32(n))
	binary.BigEndian.PutUint32(p[12:16], uint32(t))
	macP := make([]byte, aes.BlockSize)
	f.block.Encrypt(macP, p[:])

	// Q = T || [0]^((−t−b−1) mod 16) || [i]^1 || [NUM(B)]^b: a whole
	// number of blocks. Only the round number and the last b bytes change.
	pad := ((-t-b-1)%aes.BlockSize + aes.BlockSize) % aes.BlockSize
	q := make([]byte, t+pad+1+b)
	copy(q, tweak)
	small := fits && modV < 1<<63
	return ff1Params{u: u, v: v, b: b, d: d, macP: macP, q: q, at: t + pad, small: small}
}

// roundOutput runs steps 6.i–6.iii of round i: Q takes the round number and
// NUM(B) (already in pr.q's last b bytes), R = PRF(P || Q) is the CBC-MAC
// with a zero IV, and S = R || CIPH(R ⊕ [1]^16) || ... cut to d bytes.
func (f *FF1) roundOutput(pr ff1Params, i int, s []byte) []byte {
	pr.q[pr.at] = byte(i)
	f.prf(s[:aes.BlockSize], pr.macP, pr.q)
	for j := 1; j*aes.BlockSize < pr.d; j++ {
		blk := s[j*aes.BlockSize : (j+1)*aes.BlockSize]
		copy(blk, s[:aes.BlockSize])
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], uint64(j))
		xorInto(blk[aes.BlockSize-8:], ctr[:])
		f.block.Encrypt(blk, blk)
	}
	return s[:pr.d]
}

// feistelSmall runs the ten rounds (steps 6.iv–6.ix, or Algorithm 8's
// inverse) on uint64 halves. Encrypting, round i sets A, B = B, (A + y) mod
// radix^m with m = u in even rounds and v in odd ones; decrypting undoes the
// rounds in reverse order.
func (f *FF1) feistelSmall(x []uint16, pr ff1Params, encrypt bool) []uint16 {
	modU, modV := pow(f.radix, pr.u), pow(f.radix, pr.v)
	a, b := numSmall(x[:pr.u], f.radix), numSmall(x[pr.u:], f.radix)
	var sbuf [16]byte
	var in [8]byte
	for k := range ff1Rounds {
		i := k
		if !encrypt {
			i = ff1Rounds - 1 - k
		}
		// The round function reads the half the round leaves unchanged:
		// B when encrypting, A when decrypting.
		if encrypt {
			binary.BigEndian.PutUint64(in[:], b)
		} else {
			binary.BigEndian.PutUint64(in[:], a)
		}
		copy(pr.q[pr.at+1:], in[8-pr.b:])
		s := f.roundOutput(pr, i, sbuf[:])
		// y = NUM(S), S of d ≤ 16 bytes; only y mod radix^m is needed.
		var hi uint64
		for _, c := range s[:len(s)-8] {
			hi = hi<<8 | uint64(c)
		}
		lo := binary.BigEndian.Uint64(s[len(s)-8:])
		mod := modU
		if i%2 == 1 {
			mod = modV
		}
		y := bits.Rem64(hi, lo, mod)
		if encrypt {
			a, b = b, (a+y)%mod // a, y < mod < 2^63: no overflow
		} else {
			b, a = a, (b+mod-y)%mod
		}
	}
	out := make([]uint16, len(x))
	strSmall(out[:pr.u], a, f.radix)
	strSmall(out[pr.u:], b, f.radix)
	return out
}

// feistelBig is feistelSmall on math/big numbers, for domains too large for
// a uint64.
func (f *FF1) feistelBig(x []uint16, pr ff1Params, encrypt bool) []uint16 {
	r := new(big.Int).SetUint64(uint64(f.radix))
	modU := new(big.Int).Exp(r, big.NewInt(int64(pr.u)), nil)
	modV := new(big.Int).Exp(r, big.NewInt(int64(pr.v)), nil)
	numA, numB := num(x[:pr.u], f.radix), num(x[pr.u:], f.radix)
	s := make([]byte, (pr.d+aes.BlockSize-1)/aes.BlockSize*aes.BlockSize)
	y, c := new(big.Int), new(big.Int)
	for k := range ff1Rounds {
		i := k
		if !encrypt {
			i = ff1Rounds - 1 - k
		}
		in := numB
		if !encrypt {
			in = numA
		}
		in.FillBytes(pr.q[pr.at+1:])
		y.SetBytes(f.roundOutput(pr, i, s))
		mod := modU
		if i%2 == 1 {
			mod = modV
		}
		if encrypt {
			c.Add(numA, y)
			c.Mod(c, mod)
			numA, numB, c = numB, c, numA
		} else {
			c.Sub(numB, y)
			c.Mod(c, mod) // Euclidean: the result is never negative
			numB, numA, c = numA, c, numB
		}
	}
	out := make([]uint16, len(x))
	str(out[:pr.u], numA, f.radix)
	str(out[pr.u:], numB, f.radix)
	return out
}

// prf computes PRF(P || Q) (SP 800-38G Algorithm 6, a CBC-MAC with a zero
// IV) into dst, starting from macP = CIPH(P).
func (f *FF1) prf(dst, macP, q []byte) {
	copy(dst, macP)
	for off := 0; off < len(q); off += aes.BlockSize {
		xorInto(dst[:aes.BlockSize], q[off:off+aes.BlockSize])
		f.block.Encrypt(dst, dst)
	}
}

// xorInto xors src into dst; both have the same length.
func xorInto(dst, src []byte) {
	for i := range src {
		dst[i] ^= src[i]
	}
}

// num is NUM_radix(X) (SP 800-38G Algorithm 1): the numeral string read as
// a big-endian number.
func num(x []uint16, radix uint32) *big.Int {
	z, r, w := new(big.Int), new(big.Int).SetUint64(uint64(radix)), new(big.Int)
	for _, d := range x {
		z.Mul(z, r)
		z.Add(z, w.SetUint64(uint64(d)))
	}
	return z
}

// numSmall is num for strings whose value fits a uint64.
func numSmall(x []uint16, radix uint32) uint64 {
	var z uint64
	for _, d := range x {
		z = z*uint64(radix) + uint64(d)
	}
	return z
}

// strSmall is str for a uint64.
func strSmall(out []uint16, z uint64, radix uint32) {
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = uint16(z % uint64(radix))
		z /= uint64(radix)
	}
}

// pow returns radix^e; the caller knows it fits a uint64.
func pow(radix uint32, e int) uint64 {
	z, _ := powUint64(radix, e)
	return z
}

// powUint64 returns radix^e and whether it fits a uint64.
func powUint64(radix uint32, e int) (uint64, bool) {
	z := uint64(1)
	for range e {
		hi, lo := bits.Mul64(z, uint64(radix))
		if hi != 0 {
			return 0, false
		}
		z = lo
	}
	return z, true
}

// str is STR^m_radix(z) (SP 800-38G Algorithm 3), written into out (m = len(out)).
// z must be below radix^m.
func str(out []uint16, z *big.Int, radix uint32) {
	z = new(big.Int).Set(z)
	r, rem := new(big.Int).SetUint64(uint64(radix)), new(big.Int)
	for i := len(out) - 1; i >= 0; i-- {
		z.QuoRem(z, r, rem)
		out[i] = uint16(rem.Uint64())
	}
}
