package proxy

// bestResponse returns the index of the final response to send upstream
// when no 2xx was forwarded, or -1 when there is none (RFC 3261 §16.7 step
// 6): a 6xx if there is one; otherwise the lowest class; within 4xx the
// responses that tell the client how to retry (401, 407, 415, 420, 484)
// first, then 486 Busy Here, then other answers, and last the timeouts and
// cancellations, which say nothing about the callee. Ties go to the first
// branch, which is the one with the highest q.
func bestResponse(codes []int) int {
	best := -1
	for i, c := range codes {
		if c < 300 || c > 699 {
			continue
		}
		if best < 0 || preference(c) < preference(codes[best]) {
			best = i
		}
	}
	return best
}

// preference ranks a final status for bestResponse; lower is better.
func preference(code int) int {
	switch {
	case code >= 600:
		return 0
	case code < 400:
		return 1
	case code == 401 || code == 407:
		return 2
	case code == 415 || code == 420 || code == 484:
		return 3
	case code == 486:
		return 4
	case code == 408 || code == 487:
		return 6
	case code < 500:
		return 5
	default:
		return 7
	}
}
