package mix

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// benchFrames returns n talkers' frames: independent noise, scaled so that
// the sum of all n stays mostly below the limiter's knee (as the sum of real
// talkers would), or full-scale noise when loud.
func benchFrames(n, samples int, loud bool) [][]int16 {
	peak := min(32767, int(16000/math.Sqrt(float64(n))))
	if loud {
		peak = 32767
	}
	peak = max(peak, 200) // above the noise gate
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([][]int16, n)
	for i := range frames {
		frames[i] = make([]int16, samples)
		for j := range frames[i] {
			frames[i][j] = int16(rng.IntN(2*peak+1) - peak)
		}
	}
	return frames
}

// benchTick measures one whole tick of a conference of n participants who
// all talk (the worst case): Put, AccumulateRange, Mix and every Output.
// Codec work is the MCU's and is not included. ns/participant is the figure
// to compare with the prototype's mixing cost (about 360 ns per participant
// and frame for decode, N−1 mix and encode).
func benchTick(b *testing.B, cfg Config, n int, loud bool) {
	b.Helper()
	m := newMixer(b, cfg, n)
	fs := m.FrameSamples()
	frames := benchFrames(n, fs, loud)
	dst := make([]int16, fs)
	var acc Accumulator
	b.ReportAllocs()
	for b.Loop() {
		for i, f := range frames {
			_ = m.Put(i, f)
		}
		_ = m.AccumulateRange(0, n, &acc)
		m.Mix(&acc)
		for i := range n {
			_, _, _ = m.Output(i, dst)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/participant")
}

func BenchmarkTick(b *testing.B) {
	for _, mode := range []struct {
		name     string
		speakers int
	}{{"full", AllSpeakers}, {"top3", 3}} {
		for _, n := range []int{10, 100, 1000, 4000} {
			b.Run(fmt.Sprintf("%s/N=%d", mode.name, n), func(b *testing.B) {
				benchTick(b, Config{SampleRate: 8000, Speakers: mode.speakers}, n, false)
			})
		}
	}
	b.Run("full-loud/N=1000", func(b *testing.B) { // every output sample limited
		benchTick(b, Config{SampleRate: 8000, Speakers: AllSpeakers}, 1000, true)
	})
	b.Run("full-agc/N=1000", func(b *testing.B) {
		benchTick(b, Config{SampleRate: 8000, Speakers: AllSpeakers, AGC: true}, 1000, false)
	})
	b.Run("full-16k/N=1000", func(b *testing.B) {
		benchTick(b, Config{SampleRate: 16000, Speakers: AllSpeakers}, 1000, false)
	})
}

// BenchmarkTickWorkers runs the tick on two long-lived worker goroutines
// as the MCU will: phase 1 on both, Mix, phase 3 on both.
func BenchmarkTickWorkers(b *testing.B) {
	for _, speakers := range []int{AllSpeakers, 3} {
		const n, w = 4000, 2
		b.Run(fmt.Sprintf("speakers=%d/N=%d", speakers, n), func(b *testing.B) {
			m := newMixer(b, Config{SampleRate: 8000, Speakers: speakers}, n)
			frames := benchFrames(n, 160, false)
			accs := []*Accumulator{new(Accumulator), new(Accumulator)}
			phase := [w]chan int{make(chan int), make(chan int)}
			done := make(chan struct{})
			for k := range w {
				go func() {
					lo, hi := k*n/w, (k+1)*n/w
					dst := make([]int16, 160)
					for p := range phase[k] {
						if p == 1 {
							for i := lo; i < hi; i++ {
								_ = m.Put(i, frames[i])
							}
							_ = m.AccumulateRange(lo, hi, accs[k])
						} else {
							for i := lo; i < hi; i++ {
								_, _, _ = m.Output(i, dst)
							}
						}
						done <- struct{}{}
					}
				}()
			}
			run := func(p int) {
				for k := range w {
					phase[k] <- p
				}
				for range w {
					<-done
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				run(1)
				m.Mix(accs...)
				run(3)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/participant")
			for k := range w {
				close(phase[k])
			}
		})
	}
}

// BenchmarkIdle: a conference of 4000 where nobody sends anything.
func BenchmarkIdle(b *testing.B) {
	m := newMixer(b, Config{SampleRate: 8000}, 4000)
	dst := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		m.Tick()
		for i := range 4000 {
			_, _, _ = m.Output(i, dst)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/4000, "ns/participant")
}

func BenchmarkPut(b *testing.B) {
	for _, agc := range []bool{false, true} {
		b.Run(fmt.Sprintf("agc=%v", agc), func(b *testing.B) {
			m := newMixer(b, Config{SampleRate: 8000, AGC: agc}, 1)
			f := tone(8000, 160, 0, 1000, 3000)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Put(0, f)
			}
		})
	}
}

func BenchmarkOutputPersonal(b *testing.B) {
	m := newMixer(b, Config{SampleRate: 8000, Speakers: AllSpeakers}, 2)
	put(b, m, toneFrames(8000, 0, freqs[:2], []float64{3000, 3000}))
	m.Tick()
	dst := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = m.Output(0, dst)
	}
}

func BenchmarkUpsample(b *testing.B) {
	var u Upsampler
	src := tone(8000, 160, 0, 1000, 3000)
	dst := make([]int16, 320)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = u.Process(dst, src)
	}
}

func BenchmarkDownsample(b *testing.B) {
	var d Downsampler
	src := tone(16000, 320, 0, 1000, 3000)
	dst := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.Process(dst, src)
	}
}
