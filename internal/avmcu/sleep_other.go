//go:build !linux

package avmcu

import "time"

// sleepFor is time.Sleep where nanosleep is not at hand.
var sleepFor = time.Sleep
