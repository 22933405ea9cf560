#!/usr/bin/env bash
# Dial-in load benchmark on loopback (seed 001, "Connecting to the
# Meeting"): N PSTN callers through the Mediation Server and the
# Conferencing Attendant into M meetings, driven by test/load/dialinload.
#
# It starts `parley serve` with a fresh data directory, adds M organizers
# and one meeting each (anonymous, with a passcode) through the CLI, and
# runs dialinload: one enterprise participant joins each meeting's audio
# first, then the callers dial the access number at RATE per second, type
# the conference ID and passcode as RFC 4733 events, and are moved to the
# A/V MCU. The join latency is from the caller's final # to the first
# packet of the meeting's mix. It prints dialinload's report, the server's
# CPU and memory, and a summary line for the README's performance table.
#
#   test/load/dialin_bench.sh                 300 callers into 30 meetings
#   QUICK=1 test/load/dialin_bench.sh         30 callers into 3 meetings (CI, < 60 s)
#   CALLS=100 MEETINGS=10 RATE=5 HOLD=5s ...  other sizes
#   KEEP=1 ...                                keep the work directory (logs)
#
# Needs go. Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	CALLS=${CALLS:-30} MEETINGS=${MEETINGS:-3} RATE=${RATE:-10} HOLD=${HOLD:-3s}
else
	CALLS=${CALLS:-300} MEETINGS=${MEETINGS:-30} RATE=${RATE:-10} HOLD=${HOLD:-10s}
fi
DOMAIN=parley.test
SIP_PORT=${SIP_PORT:-38060}
WEB_PORT=${WEB_PORT:-38080}
MED_PORT=${MED_PORT:-38068}

command -v go >/dev/null || { echo "dialin_bench: go is not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/parley-dialin-bench.XXXXXX)
SERVER_PID=
cleanup() {
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "dialin_bench: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "building parley and dialinload"
(cd "$ROOT" && go build -o "$WORK/parley" ./cmd/parley && go build -o "$WORK/dialinload" ./test/load/dialinload)

mkdir -p "$WORK/data"
cat >"$WORK/parley.yaml" <<-CFG
	domain: $DOMAIN
	sip:
	  listen: 127.0.0.1:$SIP_PORT
	  tls_listen: ""
	  authenticate: true
	web:
	  listen: 127.0.0.1:$WEB_PORT
	mediation:
	  listen: 127.0.0.1:$MED_PORT
	attendant:
	  listen: 127.0.0.1:0
	announcement:
	  listen: 127.0.0.1:0
	database:
	  dsn: ""
	log:
	  level: info
CFG
"$WORK/parley" serve --data "$WORK/data" --config "$WORK/parley.yaml" >"$WORK/parley.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
	[[ -s $WORK/data/run.json ]] && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/parley.log" >&2; exit 1; }
	sleep 0.1
done
[[ -s $WORK/data/run.json ]] || { echo "dialin_bench: parley did not start" >&2; tail -50 "$WORK/parley.log" >&2; exit 1; }

cli() { "$WORK/parley" "$@" --data "$WORK/data"; }
log "provisioning: the access number, $MEETINGS organizers and meetings"
# Seven-digit local numbers are Redmond's, as the gateway dials them.
cli location-profile set Default --rule '(\d{7})=>+1425$1' --rule '\+(\d+)=>+$1' >/dev/null
cli access-number add +14255550100 --region "US West" --language en-US >/dev/null
: >"$WORK/meetings.jsonl"
for i in $(seq "$MEETINGS"); do
	org=sip:org$i@$DOMAIN pw=Bench-Organizer-$i
	cli user add "$org" --password "$pw" >/dev/null
	m=$(cli meeting create --organizer "$org" --password "$pw" --subject "Dial-in bench $i" \
		--anonymous --passcode --json | tr -d '\n')
	printf '{"organizer":"%s","password":"%s","meeting":%s}\n' "$org" "$pw" "$m" >>"$WORK/meetings.jsonl"
done

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { local f; read -ra f <<<"$(sed 's/.*) //' "/proc/$1/stat")"; echo $((f[11] + f[12])); }
t0=$(cpu_ticks "$SERVER_PID") w0=$(date +%s.%N)
log "running: $CALLS callers into $MEETINGS meetings at $RATE/s, hold $HOLD"
rc=0
"$WORK/dialinload" -mediation "127.0.0.1:$MED_PORT" -proxy "127.0.0.1:$SIP_PORT" -meetings "$WORK/meetings.jsonl" \
	-calls "$CALLS" -rate "$RATE" -hold "$HOLD" -timeout 10m | tee "$WORK/result.txt" || rc=$?
t1=$(cpu_ticks "$SERVER_PID") w1=$(date +%s.%N)
pss=$(awk '/^Pss:/ { print int($2 / 1024) }' "/proc/$SERVER_PID/smaps_rollup" 2>/dev/null || echo NA)
cores=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.2f", d / hz / (w1 - w0) }')
echo "server: ${cores} cores on average over the run, ${pss} MiB PSS at the end"
if grep -Eq 'level=(ERROR|WARN)' "$WORK/parley.log"; then
	echo "server warnings and errors (first 20):"
	# (awk reads to the end: head would end grep early, and pipefail
	# would make that the script's failure.)
	grep -E 'level=(ERROR|WARN)' "$WORK/parley.log" | awk 'NR <= 20'
	echo "($(grep -cE 'level=(ERROR|WARN)' "$WORK/parley.log") in all)"
fi
line=$(grep '^RESULT' "$WORK/result.txt" || true)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
if [[ -n $line ]]; then
	# A row of the README's dial-in table: | Callers / meetings | Final #
	# to mixed audio p50 / p99 / max (ms) | Hand-off gap p99 (ms) | Failed
	# calls | Server CPU, memory |
	printf '| %s / %s | %s / %s / %s | %s | %s | %s cores of %d, %s MiB PSS |\n' \
		"$(field calls)" "$(field meetings)" "$(field join_p50_ms)" "$(field join_p99_ms)" "$(field join_max_ms)" \
		"$(field gap_p99_ms)" "$(field failed)" \
		"$cores" "$(nproc)" "$pss"
fi
exit "$rc"
