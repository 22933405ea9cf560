package g722

import "testing"

// quantLinear is QUANTL's interval search as the Recommendation states it:
// step through the levels until one exceeds the magnitude.
func quantLinear(wd, det int) int {
	mil := 1
	for mil < len(q6) && wd >= (q6[mil]*det)>>12 {
		mil++
	}
	return mil
}

// TestQuantizerSearch checks the division-and-table interval search against
// the plain search for every magnitude and every step size SCALEL can
// produce, and encodeLow's use of it for both signs.
func TestQuantizerSearch(t *testing.T) {
	dets := map[int]bool{}
	for nb := 0; nb <= nbLowMax; nb++ {
		dets[scaleFactor(nb, scaleLowExp)] = true
	}
	for det := range dets {
		for wd := 0; wd <= 32767; wd++ {
			if got, want := quantInterval(wd, det), quantLinear(wd, det); got != want {
				t.Fatalf("quantInterval(%d, %d) = %d; want %d", wd, det, got, want)
			}
		}
	}
	for _, det := range []int{32, 1000, 16384} {
		for _, wd := range []int{0, 1, 100, 5000, 32767} {
			mil := quantLinear(wd, det)
			// With s == 0 the difference is the input itself.
			b := band{det: det}
			if got, want := b.encodeLow(wd), ilp[mil]; got != want {
				t.Errorf("det %d: encodeLow(%d) = %d; want %d", det, wd, got, want)
			}
			b = band{det: det}
			if got, want := b.encodeLow(^wd), iln[mil]; got != want {
				t.Errorf("det %d: encodeLow(%d) = %d; want %d", det, ^wd, got, want)
			}
		}
	}
}
