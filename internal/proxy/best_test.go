package proxy

import "testing"

func TestBestResponse(t *testing.T) {
	tests := []struct {
		name  string
		codes []int
		want  int
	}{
		{"none", nil, -1},
		{"only non-final", []int{180, 200}, -1},
		{"single", []int{486}, 0},
		{"6xx beats everything", []int{302, 486, 603}, 2},
		{"lowest class", []int{500, 486, 302}, 2},
		{"4xx over 5xx", []int{503, 404}, 1},
		{"challenge preferred", []int{486, 407, 404}, 1},
		{"420 over plain 4xx", []int{404, 420}, 1},
		{"busy over not found", []int{404, 486}, 1},
		{"answer over timeout", []int{408, 480}, 1},
		{"answer over cancel", []int{487, 404}, 1},
		{"ties go to the first", []int{486, 486}, 0},
		{"timeout over 5xx", []int{500, 408}, 1},
	}
	for _, tt := range tests {
		if got := bestResponse(tt.codes); got != tt.want {
			t.Errorf("%s: bestResponse(%v) = %d, want %d", tt.name, tt.codes, got, tt.want)
		}
	}
}
