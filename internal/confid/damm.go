package confid

// The check digit is H. Michael Damm's (2004): the digits are folded through
// a totally anti-symmetric quasigroup of order 10 whose diagonal is zero, and
// the check digit is the one that brings the fold to 0. That structure
// detects every single-digit substitution and every transposition of two
// adjacent digits, the check digit included: the two mistakes people make
// most when keying a number from an invitation into a phone.
//
// Luhn (ISO/IEC 7812) was rejected because it misses the transposition
// 09 ↔ 90; Verhoeff (dihedral group D5) detects the same errors as Damm but
// needs three tables (multiplication, permutation, inverse) and a position-
// dependent permutation, where Damm needs one table and a fold.

// dammTable is the quasigroup Damm published; row is the interim digit,
// column the next digit of the number. Its properties are checked by
// TestDammQuasigroup.
var dammTable = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// dammFold folds the ASCII digits of s through the table. s must hold only
// '0'–'9'.
func dammFold(s string) byte {
	var interim byte
	for i := 0; i < len(s); i++ {
		interim = dammTable[interim][s[i]-'0']
	}
	return interim
}

// checkDigit returns the Damm check digit (as an ASCII digit) of the digit
// string s. Because the table's diagonal is zero, appending the fold itself
// brings the fold of the whole to 0.
func checkDigit(s string) byte { return '0' + dammFold(s) }

// validCheckDigit reports whether the digit string s, check digit last,
// folds to 0.
func validCheckDigit(s string) bool { return dammFold(s) == 0 }
