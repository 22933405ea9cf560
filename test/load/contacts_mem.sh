#!/usr/bin/env bash
# Memory per registered contact: starts a server, registers N distinct
# users with SIPp (register.xml, one contact each, authentication off),
# waits SETTLE seconds (35: the REGISTER transactions end 32 s after their
# answer, RFC 3261 §17.2.2 Timer J) and reports per contact the growth of
# the server's proportional set size (PSS, which counts shared memory once
# across Kamailio's processes) and, for Parley, of its live Go heap (heap
# in use after a forced GC, from the profiler PARLEY_PPROF_LISTEN enables).
#
#   test/load/contacts_mem.sh                  100,000 contacts, Parley
#   N=20000 test/load/contacts_mem.sh          fewer
#   SERVERS="parley kamailio" ...              also the Kamailio baseline
#   KEEP=1 ...                                 keep the work directory
#
# Parley's registrar only binds users that are in the directory, so the
# users are created first through the admin API (test/load/provision); the
# baseline is taken after that, so the directory's own memory is not
# counted. Loopback only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCEN=$ROOT/test/sipp
N=${N:-100000}
RATE=${RATE:-2000}
SERVERS=${SERVERS:-parley}
SETTLE=${SETTLE:-35}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
PARLEY_SIP=35160
PARLEY_WEB=35180
PARLEY_PPROF=35190
KAM_SIP=36160
SIPP_PORT=37100

command -v sipp >/dev/null || { echo "contacts_mem: sipp is not installed" >&2; exit 1; }
WORK=$(mktemp -d /tmp/parley-mem.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ ${KEEP:-0} == 1 ]]; then echo "contacts_mem: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# pss_kib PID: proportional set size of the process and its children, KiB.
pss_kib() {
	local total=0 pid
	for pid in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
		total=$((total + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

start_parley() {
	local data=$WORK/parley
	mkdir -p "$data"
	(cd "$ROOT" && go build -o "$WORK/parley-bin" ./cmd/parley)
	cat >"$WORK/parley.yaml" <<-EOF
		domain: parley.test
		sip:
		  listen: 127.0.0.1:$PARLEY_SIP
		  tls_listen: ""
		  authenticate: false
		web:
		  listen: 127.0.0.1:$PARLEY_WEB
		log:
		  level: warn
	EOF
	PARLEY_PPROF_LISTEN=127.0.0.1:$PARLEY_PPROF \
		"$WORK/parley-bin" serve --data "$data" --config "$WORK/parley.yaml" >"$WORK/parley.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_NAME=parley
	TARGET=127.0.0.1:$PARLEY_SIP
	local i
	for i in $(seq 300); do
		[[ -s $data/run.json ]] && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/parley.log" >&2; exit 1; }
		sleep 0.1
	done
	[[ -s $data/run.json ]] || { echo "contacts_mem: parley did not start" >&2; exit 1; }
	log "provisioning $N users"
	(cd "$ROOT" && go run ./test/load/provision -data "$data" -prefix m -count "$N" -workers 8)
}

# heap_kib: Parley's live heap in KiB (HeapInuse after a GC), or "NA".
heap_kib() {
	[[ $SERVER_NAME == parley ]] || { echo NA; return; }
	curl -fsS "http://127.0.0.1:$PARLEY_PPROF/debug/pprof/heap?gc=1&debug=1" 2>/dev/null |
		awk '/^# HeapInuse = / { print int($4 / 1024); found = 1 } END { if (!found) print "NA" }'
}

start_kamailio() {
	mkdir -p "$WORK/kamailio"
	"$KAMAILIO" -f "$ROOT/test/load/kamailio.cfg" -l "udp:127.0.0.1:$KAM_SIP" -m 1024 -M 32 \
		-DD -E -w "$WORK/kamailio" -Y "$WORK/kamailio" -P "$WORK/kamailio/pid" \
		>"$WORK/kamailio/log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_NAME=kamailio
	TARGET=127.0.0.1:$KAM_SIP
	local i
	for i in $(seq 50); do
		grep -q "udp: 127.0.0.1" "$WORK/kamailio/log" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
}

measure() {
	local server=$1
	log "== $server"
	"start_$server"
	awk -v p=m -v n="$N" 'BEGIN {
		print "SEQUENTIAL"
		for (i = 1; i <= n; i++) printf "%s%06d;-;127.0.0.1\n", p, i
	}' >"$WORK/users.csv"
	sleep 2
	local before after heap0 heap1 ok failed
	heap0=$(heap_kib)
	before=$(pss_kib "$SERVER_PID")
	log "registering $N contacts at $RATE/s"
	sipp "$TARGET" -sf "$SCEN/register.xml" -i 127.0.0.1 -p $SIPP_PORT -nostdin \
		-inf "$WORK/users.csv" -key expires 3600 -r "$RATE" -m "$N" -l $((RATE * 4)) \
		-buff_size 4194304 -timeout $((N / RATE * 3 + 60))s -timeout_error \
		-trace_stat -stf "$WORK/$server.csv" -fd 1 >"$WORK/$server.screen" 2>&1 || true
	ok=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c + 0 }' "$WORK/$server.csv")
	failed=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i } END { print $c + 0 }' "$WORK/$server.csv")
	log "waiting ${SETTLE}s for the transactions to end"
	sleep "$SETTLE"
	heap1=$(heap_kib)
	after=$(pss_kib "$SERVER_PID")
	if ((ok * 10 < N * 9)); then
		echo "contacts_mem: $server: only $ok of $N registrations succeeded ($failed failed)" >&2
		exit 1
	fi
	((ok == N)) || log "warning: $failed of $N registrations failed; counting the $ok bound contacts"
	printf '%-10s %8d contacts  PSS %7.1f -> %7.1f MiB, %6.0f bytes per contact' "$server" "$ok" \
		"$(awk -v k="$before" 'BEGIN { print k / 1024 }')" "$(awk -v k="$after" 'BEGIN { print k / 1024 }')" \
		"$(awk -v a="$after" -v b="$before" -v n="$ok" 'BEGIN { print (a - b) * 1024 / n }')"
	if [[ $heap0 != NA && $heap1 != NA ]]; then
		printf '; live heap %7.1f -> %7.1f MiB, %6.0f bytes per contact' \
			"$(awk -v k="$heap0" 'BEGIN { print k / 1024 }')" "$(awk -v k="$heap1" 'BEGIN { print k / 1024 }')" \
			"$(awk -v a="$heap1" -v b="$heap0" -v n="$ok" 'BEGIN { print (a - b) * 1024 / n }')"
	fi
	echo
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
}

for s in $SERVERS; do
	measure "$s"
done
