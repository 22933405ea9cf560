//go:build !linux

// Command rtpload needs Linux: it uses recvmmsg, sendmmsg and IP_PKTINFO.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "rtpload: Linux only")
	os.Exit(2)
}
