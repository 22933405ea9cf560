#!/usr/bin/env bash
# Whole-machine freezes: moments when no CPU of the machine switched tasks
# for longer than a threshold while it was busy. Under rtpload's load both
# CPUs switch every few microseconds (readers, ticks, the 1 kHz probe), so
# a silence of milliseconds on every CPU at once is not our code: it is the
# hypervisor holding the virtual machine's vCPUs (the guest's steal counter
# need not show it). Each such freeze delays every thread of both processes
# by its length, and a tick that meets one is late by as much.
#
#   test/load/vmfreeze.sh [seconds [threshold_ms]]    (root and perf needed)
#
# Run it while a load runs, e.g.
#   rtpload -participants 4000 -duration 20s -client-nice 10 & sleep 5; test/load/vmfreeze.sh 5
# On an idle machine CPUs sleep for long stretches and the list means nothing.
set -euo pipefail

secs=${1:-5}
threshold=${2:-4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
perf record -q -a -e sched:sched_switch -o "$dir/perf.data" -- sleep "$secs" 2>/dev/null
perf script -i "$dir/perf.data" -F time 2>/dev/null | tr -d ' :' | sort -n |
	awk -v th="$threshold" -v secs="$secs" '
		{ t = $1 + 0; if (n++ && t - prev > th / 1000) { gaps++; total += t - prev; printf "freeze: %.1f ms at %.6f\n", (t - prev) * 1000, prev } prev = t }
		END { printf "%d switches in %s s; %d freezes over %s ms, %.1f ms in all\n", n, secs, gaps, th, total * 1000 }'
