#!/usr/bin/env bash
# SIP load benchmark on loopback: Parley and Kamailio (the peer baseline,
# test/load/kamailio.cfg), one after the other, driven by the same SIPp
# scenarios (test/sipp). Two metrics, each the highest offered rate of a
# ladder that completes a fixed window with no failed call:
#
#   REGISTER/s   register.xml, distinct users, no authentication
#                (Parley: sip.authenticate: false; Kamailio: no auth module)
#   calls/s      uac_call.xml -> proxy -> uas.xml: INVITE, 180, 200, ACK,
#                BYE, 200 through the transaction-stateful, record-routing
#                proxy, to a SIPp callee registered at the proxy
#   addConference/s  addconference.xml: SIP SERVICE with a C3P
#                addConference asking for a dial-in conference ID, to the
#                organizer's Focus Factory, stored in SQLite (Parley only:
#                Kamailio has no Focus Factory, so there is no ratio)
#
# For each it prints the achieved rate, retransmissions (UDP loss shows up
# there first) and the CPU of the server processes and of SIPp, which share
# the machine's cores. Then a table: metric, Parley, Kamailio, ratio.
#
#   test/load/bench.sh                     full run, under 10 minutes
#   QUICK=1 test/load/bench.sh             short ladders, under 2 minutes
#   SERVERS=kamailio test/load/bench.sh    one server only
#   KEEP=1 ...                             keep the work directory (logs)
#   IDLE_WAIT=S                            wait up to S seconds for an idle
#                                          machine before each ladder
#   RETRIES=N                              rerun up to N steps per ladder that
#                                          failed while others were busy
#
# Needs sipp, kamailio and go. Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCEN=$ROOT/test/sipp
QUICK=${QUICK:-0}
SERVERS=${SERVERS:-parley kamailio}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}

if [[ $QUICK == 1 ]]; then
	IDLE_WAIT=${IDLE_WAIT:-3}
	RETRIES=${RETRIES:-0}
	WINDOW=3
	USERS=3000
	REG_RATES="2000 6000 12000"
	CALL_RATES="200 600 1200"
	CONF_RATES="500 1000 2000"
else
	IDLE_WAIT=${IDLE_WAIT:-30}
	RETRIES=${RETRIES:-2}
	WINDOW=10
	USERS=20000
	REG_RATES="2000 5000 10000 15000 20000 25000 30000"
	CALL_RATES="250 500 1000 1500 2000 2500 3000 3500"
	CONF_RATES="1000 2000 3000 4000 5000 6000"
fi

# Ports: each server in its own range; SIPp instances above both.
PARLEY_SIP=35060
PARLEY_WEB=35080
KAM_SIP=36060
SIPP_UAC=37000
SIPP_UAS=37010
SIPP_UAS_MEDIA=37020
SIPP_UAC_MEDIA=37030

for tool in sipp go; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
if [[ $SERVERS == *kamailio* && ! -x $KAMAILIO ]]; then
	echo "bench: $KAMAILIO is not installed (apt-get install kamailio, or SERVERS=parley)" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/parley-bench.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "bench: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

CLK_TCK=$(getconf CLK_TCK)
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# cpu_ticks PID...: user+system clock ticks used so far by the processes.
cpu_ticks() {
	local pid total=0 stat
	local -a f
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		# Fields after the command name (which may hold spaces) start at
		# field 3; utime and stime are fields 14 and 15.
		read -ra f <<<"${stat##*) }"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# box_busy: clock ticks all CPUs have spent busy since boot (/proc/stat:
# everything but idle and iowait).
box_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# wait_idle: the machine may be shared; wait (up to IDLE_WAIT seconds) until
# less than a quarter of a core is busy, so that the numbers are ours.
wait_idle() {
	local i b0 b1
	for ((i = 0; i < IDLE_WAIT; i++)); do
		b0=$(box_busy)
		sleep 1
		b1=$(box_busy)
		if (((b1 - b0) * 4 < CLK_TCK)); then
			return
		fi
	done
	log "warning: the machine is busy ($(awk -v d=$((b1 - b0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz }') cores used by others); numbers will be low"
}

# server_pids: the server's processes (Kamailio forks workers).
server_pids() {
	echo "$SERVER_PID"
	ps -o pid= --ppid "$SERVER_PID" 2>/dev/null || true
}

# server_pss: proportional set size of the server's processes in KiB
# (shared memory counted once, unlike summed RSS).
server_pss() {
	local pid total=0
	for pid in $(server_pids); do
		total=$((total + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

# stat_field FILE NAME: a counter from the last line of a SIPp -trace_stat file.
stat_field() {
	awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i }
		END { if (col) { v = $col; sub(/\r$/, "", v); print v } else print "NA" }' "$1"
}

# stat_elapsed FILE: seconds between SIPp's start and its last statistics
# dump (the time fields end with the Unix time after a tab).
stat_elapsed() {
	awk -F';' 'END { n = split($1, s, "\t"); m = split($3, c, "\t"); printf "%.3f", c[m] - s[n] }' "$1"
}

# write_users FILE PREFIX COUNT DOMAIN: a SIPp injection file of
# register_auth.xml's format (register.xml ignores the credentials).
write_users() {
	awk -v p="$2" -v n="$3" -v d="$4" 'BEGIN {
		print "SEQUENTIAL"
		for (i = 1; i <= n; i++) {
			u = sprintf("%s%06d", p, i)
			printf "%s;[authentication username=%s password=bench-password];%s\n", u, u, d
		}
	}' >"$1"
}

# sipp_step NAME TARGET SCENARIO RATE ARGS...: one fixed window at RATE.
# Sets STEP_OK, STEP_RATE (successful per second), STEP_SERVER_CORES,
# STEP_SIPP_CORES, STEP_RETRANS.
sipp_step() {
	local name=$1 target=$2 scen=$3 rate=$4
	shift 4
	local count=$((rate * WINDOW)) stat=$WORK/$name.csv times=$WORK/$name.time
	local pids t0 t1 u0 u1 b0 b1 w0 w1 rc=0
	local -a timer=()
	if [[ -x /usr/bin/time ]]; then
		timer=(/usr/bin/time -f '%U %S' -o "$times")
	fi
	# shellcheck disable=SC2207
	pids=($(server_pids))
	t0=$(cpu_ticks "${pids[@]}")
	u0=$(cpu_ticks ${UAS_PID:-})
	b0=$(box_busy)
	w0=$(date +%s.%N)
	"${timer[@]}" sipp "$target" -sf "$SCEN/$scen" -i 127.0.0.1 -nostdin \
		-r "$rate" -rp 1000 -m "$count" -l $((rate * 4 + 100)) \
		-timeout $((WINDOW + 10))s -timeout_error -buff_size 4194304 \
		-trace_stat -stf "$stat" -fd 1 -trace_err -error_file "$WORK/$name.errors" \
		"$@" >"$WORK/$name.screen" 2>&1 || rc=$?
	w1=$(date +%s.%N)
	t1=$(cpu_ticks "${pids[@]}")
	u1=$(cpu_ticks ${UAS_PID:-})
	b1=$(box_busy)
	local ok failed retrans elapsed
	ok=$(stat_field "$stat" 'SuccessfulCall(C)')
	failed=$(stat_field "$stat" 'FailedCall(C)')
	retrans=$(stat_field "$stat" 'Retransmissions(C)')
	elapsed=$(stat_elapsed "$stat")
	STEP_RETRANS=$retrans
	STEP_RATE=$(awk -v ok="$ok" -v el="$elapsed" 'BEGIN { printf "%.0f", (el > 0 ? ok / el : 0) }')
	STEP_SERVER_CORES=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v w0="$w0" -v w1="$w1" \
		'BEGIN { printf "%.2f", d / hz / (w1 - w0) }')
	# SIPp: the load generator, plus the callee's SIPp if there is one.
	# Others: whatever else kept the cores busy meanwhile.
	STEP_SIPP_CORES=NA STEP_OTHER_CORES=NA
	if [[ -s $times ]]; then
		# The last line: GNU time puts "Command exited with non-zero
		# status" before it when SIPp fails.
		STEP_SIPP_CORES=$(tail -n 1 "$times" | awk -v w0="$w0" -v w1="$w1" -v u=$((u1 - u0)) -v hz="$CLK_TCK" \
			'{ printf "%.2f", ($1 + $2 + u / hz) / (w1 - w0) }')
		STEP_OTHER_CORES=$(tail -n 1 "$times" | awk -v w0="$w0" -v w1="$w1" -v box=$((b1 - b0)) -v srv=$((t1 - t0)) \
			-v u=$((u1 - u0)) -v hz="$CLK_TCK" \
			'{ printf "%.2f", ((box - srv - u) / hz - $1 - $2) / (w1 - w0) }')
	fi
	STEP_OK=0
	if [[ $rc == 0 && $ok == "$count" && $failed == 0 ]]; then
		STEP_OK=1
	fi
	log "  $name: offered $rate/s x ${WINDOW}s: $ok ok, $failed failed, $retrans retransmissions," \
		"exit $rc; $STEP_RATE/s achieved; cores: server ${STEP_SERVER_CORES}, sipp ${STEP_SIPP_CORES}," \
		"others ${STEP_OTHER_CORES}"
}

# ladder KIND TARGET SCENARIO "RATES" ARGS...: runs steps until one fails;
# sets BEST_RATE/BEST_CORES/BEST_SIPP/BEST_OTHER from the best clean step.
ladder() {
	local kind=$1 target=$2 scen=$3 rates=$4
	shift 4
	BEST_RATE=0 BEST_CORES=NA BEST_SIPP=NA BEST_OTHER=NA
	local rate retries=$RETRIES
	for rate in $rates; do
		sipp_step "$SERVER_NAME-$kind-$rate" "$target" "$scen" "$rate" "$@"
		# A step that failed while other processes took a third of a core
		# or more is run again once the machine is quiet (RETRIES times at
		# most per ladder).
		if [[ ($STEP_OK != 1 || $((STEP_RATE * 10)) -lt $((rate * 9))) && $STEP_OTHER_CORES != NA ]] &&
			((retries > 0)) && awk -v o="$STEP_OTHER_CORES" 'BEGIN { exit !(o > 0.33) }'; then
			retries=$((retries - 1))
			log "  others were busy; running $rate/s again"
			sleep 3
			wait_idle
			sipp_step "$SERVER_NAME-$kind-$rate-again" "$target" "$scen" "$rate" "$@"
		fi
		if [[ $STEP_OK != 1 ]]; then
			break
		fi
		if ((STEP_RATE > BEST_RATE)); then
			BEST_RATE=$STEP_RATE BEST_CORES=$STEP_SERVER_CORES BEST_SIPP=$STEP_SIPP_CORES BEST_OTHER=$STEP_OTHER_CORES
		fi
		# SIPp or the server could not keep up with the offered rate.
		if ((STEP_RATE * 10 < rate * 9)); then
			break
		fi
		sleep 1
	done
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
	DOMAIN=127.0.0.1
	local i
	for i in $(seq 50); do
		if grep -q "udp: 127.0.0.1" "$WORK/kamailio/log" 2>/dev/null && (($(server_pids | wc -l) > 4)); then
			sleep 0.5
			return
		fi
		sleep 0.1
	done
	echo "bench: kamailio did not start:" >&2
	cat "$WORK/kamailio/log" >&2
	exit 1
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
		  max_in_flight: 20000
		web:
		  listen: 127.0.0.1:$PARLEY_WEB
		database:
		  dsn: ""
		log:
		  level: warn
	EOF
	"$WORK/parley-bin" serve --data "$data" --config "$WORK/parley.yaml" >"$WORK/parley.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_NAME=parley
	TARGET=127.0.0.1:$PARLEY_SIP
	DOMAIN=127.0.0.1
	local i
	for i in $(seq 300); do
		[[ -s $data/run.json ]] && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/parley.log" >&2; exit 1; }
		sleep 0.1
	done
	[[ -s $data/run.json ]] || { echo "bench: parley did not start" >&2; cat "$WORK/parley.log" >&2; exit 1; }
	# The registrar only binds addresses that are in the directory.
	log "provisioning $USERS users and the call parties"
	(cd "$ROOT" && go run ./test/load/provision -data "$data" -prefix u -count "$USERS" -workers 8)
	(cd "$ROOT" && go run ./test/load/provision -data "$data" -prefix caller -count 1)
	(cd "$ROOT" && go run ./test/load/provision -data "$data" -prefix callee -count 1)
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
}

declare -A RESULT
UAS_PID=

bench_server() {
	local server=$1
	log "== $server"
	case $server in
	parley) start_parley ;;
	kamailio) start_kamailio ;;
	*) echo "bench: unknown server $server" >&2; exit 1 ;;
	esac
	local pss0
	pss0=$(server_pss)

	write_users "$WORK/users.csv" u "$USERS" "$DOMAIN"
	wait_idle
	log "REGISTER ladder ($REG_RATES /s, ${WINDOW}s each)"
	ladder register "$TARGET" register.xml "$REG_RATES" -inf "$WORK/users.csv" -key expires 3600 -p $SIPP_UAC
	RESULT[$server,reg]=$BEST_RATE RESULT[$server,reg_cpu]=$BEST_CORES RESULT[$server,reg_sipp]=$BEST_SIPP
	RESULT[$server,reg_other]=$BEST_OTHER

	# The callee: register its contact, then answer every call.
	write_users "$WORK/callee.csv" callee 1 "$DOMAIN"
	write_users "$WORK/caller.csv" caller 1 "$DOMAIN"
	sipp "$TARGET" -sf "$SCEN/register.xml" -i 127.0.0.1 -p $SIPP_UAS -nostdin -m 1 \
		-inf "$WORK/callee.csv" -key expires 3600 -timeout 10s -timeout_error >"$WORK/$server-callee-reg.screen" 2>&1 ||
		{ echo "bench: $server: the callee could not register" >&2; exit 1; }
	sipp -sf "$SCEN/uas.xml" -i 127.0.0.1 -p $SIPP_UAS -mp $SIPP_UAS_MEDIA -nostdin -d 0 \
		-buff_size 4194304 -timeout 900s >"$WORK/$server-uas.screen" 2>&1 &
	UAS_PID=$!
	PIDS+=("$UAS_PID")
	wait_idle
	log "call ladder ($CALL_RATES /s, ${WINDOW}s each)"
	ladder calls "$TARGET" uac_call.xml "$CALL_RATES" -inf "$WORK/caller.csv" -s callee000001 \
		-auth_uri "callee000001@$DOMAIN" -d 0 -p $SIPP_UAC -mp $SIPP_UAC_MEDIA
	RESULT[$server,calls]=$BEST_RATE RESULT[$server,calls_cpu]=$BEST_CORES RESULT[$server,calls_sipp]=$BEST_SIPP
	RESULT[$server,calls_other]=$BEST_OTHER
	kill "$UAS_PID" 2>/dev/null || true
	wait "$UAS_PID" 2>/dev/null || true
	UAS_PID=

	if [[ $server == parley ]]; then
		# Organizers in the organization's domain: the C3P from must be
		# the user's address-of-record.
		write_users "$WORK/organizers.csv" u "$USERS" parley.test
		wait_idle
		log "addConference ladder ($CONF_RATES /s, ${WINDOW}s each)"
		ladder addconf "$TARGET" addconference.xml "$CONF_RATES" -inf "$WORK/organizers.csv" -p $SIPP_UAC
		RESULT[$server,conf]=$BEST_RATE RESULT[$server,conf_cpu]=$BEST_CORES RESULT[$server,conf_sipp]=$BEST_SIPP
		RESULT[$server,conf_other]=$BEST_OTHER
	fi

	local pss1
	pss1=$(server_pss)
	RESULT[$server,pss]=$((pss1 / 1024))
	log "$server memory (PSS, all processes): $((pss0 / 1024)) MiB at start, $((pss1 / 1024)) MiB at the end"
	stop_server
	sleep 1
}

for s in $SERVERS; do
	bench_server "$s"
done

ratio() {
	awk -v a="${1:-NA}" -v b="${2:-NA}" 'BEGIN {
		if (a == "NA" || b == "NA" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
# row LABEL KEY [noratio]
row() {
	local r=-
	if [[ -z ${3:-} ]]; then
		r=$(ratio "${RESULT[parley,$2]:-NA}" "${RESULT[kamailio,$2]:-NA}")
	fi
	printf '%-44s %12s %12s %8s\n' "$1" "${RESULT[parley,$2]:-NA}" "${RESULT[kamailio,$2]:-NA}" "$r"
}
echo
echo "SIP load on loopback, $(nproc) cores, window ${WINDOW}s per step, SIPp $(sipp -v 2>&1 | awk '/SIPp v/ { print $2 }')"
printf '%-44s %12s %12s %8s\n' metric Parley Kamailio ratio
row "REGISTER/s, no failures (no auth)" reg
row "  server CPU at that rate (cores)" reg_cpu
row "  SIPp CPU at that rate (cores)" reg_sipp noratio
row "  other processes meanwhile (cores)" reg_other noratio
row "calls/s INVITE-200-ACK-BYE, no failures" calls
row "  server CPU at that rate (cores)" calls_cpu
row "  SIPp CPU, caller + callee (cores)" calls_sipp noratio
row "  other processes meanwhile (cores)" calls_other noratio
row "addConference/s via SERVICE, no failures" conf noratio
row "  server CPU at that rate (cores)" conf_cpu noratio
row "  SIPp CPU at that rate (cores)" conf_sipp noratio
row "server memory at the end, PSS (MiB)" pss
