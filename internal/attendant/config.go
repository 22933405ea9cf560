package attendant

import (
	"time"

	"github.com/parleyhq/parley/internal/prompts"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 3
	DefaultInterDigit  = 5 * time.Second
	DefaultNoInput     = 10 * time.Second
	DefaultLeaderWait  = 4 * time.Second
	DefaultStillWait   = 60 * time.Second
	// DefaultMaxDigits bounds one entry: longer is a stuck key or a probe,
	// and is submitted as it stands (and refused).
	DefaultMaxDigits = 32
)

// Config tunes a Flow; zero fields take the defaults.
type Config struct {
	// MaxAttempts is how many wrong entries (or silences) a step allows
	// before the call ends.
	MaxAttempts int
	// InterDigit is how long the caller may pause within an entry before
	// what he typed is taken as if he had pressed #.
	InterDigit time.Duration
	// NoInput is how long after a prompt ends the flow waits for a key.
	NoInput time.Duration
	// LeaderWait is how long a meeting without a passcode waits for the
	// leader's * before joining the caller as an attendee.
	LeaderWait time.Duration
	// StillWait is the period of the "still waiting" reminder on hold.
	StillWait time.Duration
	// MaxDigits bounds one entry.
	MaxDigits int
	// RejoinOffer is the prompt that offers a caller the meeting he was
	// recently in ("to rejoin the meeting you just left, press pound;
	// otherwise enter the conference ID"). Without it the offer is not
	// made: the catalog has no such prompt yet.
	RejoinOffer prompts.Key
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxDigits <= 0 {
		c.MaxDigits = DefaultMaxDigits
	}
	def(&c.InterDigit, DefaultInterDigit)
	def(&c.NoInput, DefaultNoInput)
	def(&c.LeaderWait, DefaultLeaderWait)
	def(&c.StillWait, DefaultStillWait)
	return c
}
