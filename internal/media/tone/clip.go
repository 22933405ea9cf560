package tone

// Clip plays a PCM clip, such as a decoded prompt, frame by frame. Looping,
// it plays forever (hold music) with the end of the clip running straight
// into its start within the same frame, so the loop adds no gap or click
// beyond what the clip itself has.
type Clip struct {
	pcm  []int16
	pos  int
	loop bool
}

// NewClip returns a Clip of pcm, which it plays in place: pcm must not change
// while the Clip is in use. Many Clips may share one pcm, each playing from
// its own position, as legs on hold do.
func NewClip(pcm []int16, loop bool) *Clip {
	return &Clip{pcm: pcm, loop: loop}
}

// Read implements Source. An empty clip is done at once, looping or not.
func (c *Clip) Read(frame []int16) (int, bool) {
	n := 0
	for n < len(frame) && c.pos < len(c.pcm) {
		k := copy(frame[n:], c.pcm[c.pos:])
		n += k
		c.pos += k
		if c.pos == len(c.pcm) && c.loop {
			c.pos = 0
		}
	}
	return n, c.pos == len(c.pcm)
}

// Reset plays the clip from its start again.
func (c *Clip) Reset() { c.pos = 0 }

// Position returns the index in the clip of the next sample to play.
func (c *Clip) Position() int { return c.pos }
