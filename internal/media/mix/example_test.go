package mix_test

import (
	"fmt"
	"math"
	"sync"

	"github.com/parleyhq/parley/internal/media/mix"
)

// An MCU tick on two workers: phase 1 (Put + AccumulateRange) on disjoint
// halves, Mix alone, phase 3 (Output) on both halves again. Everyone but
// the three loudest hears the Shared frame, encoded once.
func Example() {
	m, err := mix.NewMixer(mix.Config{SampleRate: 8000}) // top-3
	if err != nil {
		panic(err)
	}
	const n = 6
	for range n {
		if _, err := m.Add(); err != nil {
			panic(err)
		}
	}
	// Participant i talks at amplitude 1000·(i+1) (decoded PCM).
	inputs := make([][]int16, n)
	for i := range inputs {
		inputs[i] = make([]int16, m.FrameSamples())
		for j := range inputs[i] {
			inputs[i][j] = int16(1000 * float64(i+1) * math.Sin(2*math.Pi*float64(j)/16))
		}
	}

	accs := []*mix.Accumulator{new(mix.Accumulator), new(mix.Accumulator)}
	var wg sync.WaitGroup
	for w, acc := range accs {
		lo, hi := w*m.Slots()/2, (w+1)*m.Slots()/2
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				_ = m.Put(i, inputs[i]) // after decoding slot i's packet
			}
			_ = m.AccumulateRange(lo, hi, acc)
		})
	}
	wg.Wait()
	m.Mix(accs...)

	kinds := make([]mix.Kind, n)
	for w := range 2 {
		wg.Go(func() {
			dst := make([]int16, m.FrameSamples())
			for i := w * n / 2; i < (w+1)*n/2; i++ {
				kinds[i], _, _ = m.Output(i, dst) // then encode (personal) or copy (shared)
			}
		})
	}
	wg.Wait()
	fmt.Println("speakers:", m.Speakers(nil))
	fmt.Printf("kinds: %v\n", kinds) // each Kind prints by its String method
	// Output:
	// speakers: [5 4 3]
	// kinds: [shared shared shared personal personal personal]
}

// A G.711 (8 kHz) leg in a G.722 (16 kHz) conference: its decoded input is
// upsampled before Put, and what it hears is downsampled before encoding.
// Each leg keeps its own resamplers, so that consecutive frames join
// smoothly.
func ExampleUpsampler() {
	m, err := mix.NewMixer(mix.Config{SampleRate: 16000, Speakers: mix.AllSpeakers})
	if err != nil {
		panic(err)
	}
	wide, _ := m.Add()   // a G.722 leg
	narrow, _ := m.Add() // a G.711 leg
	var up mix.Upsampler
	var down mix.Downsampler

	pcm8 := make([]int16, 160) // decoded G.711 frame (silence here)
	pcm16 := make([]int16, 320)
	pcm16, _ = up.Process(pcm16, pcm8)
	_ = m.Put(narrow, pcm16)
	_ = m.Put(wide, make([]int16, 320))
	m.Tick()

	out16 := make([]int16, 320)
	kind, frame, _ := m.Output(narrow, out16)
	out8, _ := down.Process(make([]int16, 160), frame)
	fmt.Println(kind, len(frame), "samples at 16 kHz ->", len(out8), "at 8 kHz")
	// Output: silence 320 samples at 16 kHz -> 160 at 8 kHz
}
