package sdpoa

// Direction is a media direction attribute (RFC 4566 §6, RFC 3264 §5.1),
// always from the point of view of the party that wrote it.
type Direction uint8

// The four directions. The zero value is not a direction: Parse reports
// SendRecv when no attribute is present, which is the default.
const (
	SendRecv Direction = iota + 1
	SendOnly
	RecvOnly
	Inactive
)

// String returns the attribute name, as in "a=sendonly".
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "unknown"
}

// Sends reports whether the writer of d sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the writer of d receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Reverse returns the same stream seen from the other end: what one party
// sends the other receives. It is the answer to an offer of d when the
// answerer accepts everything (RFC 3264 §6.1).
func (d Direction) Reverse() Direction { return direction(d.Receives(), d.Sends()) }

// Intersect returns the direction that sends only when both d and o send
// and receives only when both receive.
func (d Direction) Intersect(o Direction) Direction {
	return direction(d.Sends() && o.Sends(), d.Receives() && o.Receives())
}

func direction(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

func parseDirection(key string) (Direction, bool) {
	switch key {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}

// MarshalText renders the direction as its attribute name.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
