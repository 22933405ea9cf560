package focus

import "sync"

// worker runs functions one at a time, in submission order, on its own
// goroutine. Its queue is unbounded: the conference must never block on it.
// Each of a meeting's MCUs has one (mcuLink.io), so that commands to an
// MCU leave in the order the conference issued them, and a slow MCU delays
// only its own commands.
type worker struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newWorker() *worker {
	return &worker{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// submit queues fn; once the worker is closed, fn is dropped (the
// meeting has ended and its MCU with it).
func (w *worker) submit(fn func()) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, fn)
	w.mu.Unlock()
	w.signal()
}

// close lets the worker finish what is queued and stop.
func (w *worker) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			closed := w.closed
			w.mu.Unlock()
			if closed {
				return
			}
			<-w.wake
			continue
		}
		fn := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		fn()
	}
}
