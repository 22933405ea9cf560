package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// rssKiB returns the process's resident set size (VmRSS), in KiB.
func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// udpCounters returns the system-wide UDP receive-buffer and input errors
// of /proc/net/snmp: datagrams the kernel dropped because a socket's
// buffer was full (on either side; loopback has no other place to drop).
func udpCounters() (rcvbuf, inErrors int64) {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, 0
	}
	var names, values []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		if names == nil {
			names = strings.Fields(line)
		} else {
			values = strings.Fields(line)
		}
	}
	for i := range min(len(names), len(values)) {
		v, _ := strconv.ParseInt(values[i], 10, 64)
		switch names[i] {
		case "RcvbufErrors":
			rcvbuf = v
		case "InErrors":
			inErrors = v
		}
	}
	return rcvbuf, inErrors
}

// cpuBusy returns the machine's busy and total jiffies from /proc/stat,
// to tell how much of the box other processes used during a run.
func cpuBusy() (busy, total int64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0
	}
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}
