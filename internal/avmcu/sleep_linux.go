//go:build linux

package avmcu

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepFor is how large conferences sleep: preciseSleep, or time.Sleep in
// tests that run in testing/synctest's fake time.
var sleepFor = preciseSleep

// preciseSleep sleeps for d with the kernel's resolution. Go's timers
// sleep in epoll_wait, whose timeout is in whole milliseconds: when the
// process is otherwise idle, a timer fires up to a millisecond late, which
// is most of the lag budget of a tick. Large conferences end their waits
// with nanosleep instead, holding their thread for at most coarseSleep.
func preciseSleep(d time.Duration) {
	end := time.Now().Add(d)
	if d > coarseSleep {
		// The coarse part may overshoot by up to a millisecond: the fine
		// part sleeps what is left until end, not a fixed coarseSleep.
		time.Sleep(d - coarseSleep)
		d = time.Until(end)
	}
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
