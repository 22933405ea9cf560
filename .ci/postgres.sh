#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server for the store tests and prints the
# environment they need:
#
#   eval "$(.ci/postgres.sh)"          # start; sets PARLEY_TEST_POSTGRES_DSN
#   go test ./internal/store/...
#   .ci/postgres.sh stop "$PARLEY_TEST_POSTGRES_DIR"
#
# The cluster lives in a fresh temporary directory (data, unix socket, log),
# listens on 127.0.0.1 only, on the first free port from 55432, and runs with
# fsync off: it is for tests and is deleted by "stop". Only the export lines
# go to stdout; progress and errors go to stderr.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
	if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
		echo /usr/lib/postgresql/15/bin
	elif command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
		pg_config --bindir
	else
		die "no PostgreSQL binaries in /usr/lib/postgresql/15/bin or pg_config --bindir"
	fi
}

# as runs a command as the cluster's owner: ourselves, or user postgres
# when we are root, because initdb and postgres refuse to run as root.
as() {
	if [[ $EUID -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	local bin dir port
	bin=$(bindir)
	dir=$(mktemp -d "${TMPDIR:-/tmp}/parley-pg.XXXXXX")
	if [[ $EUID -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "running as root needs a postgres user to own the cluster"
		chown postgres: "$dir"
	fi
	port=55432
	while ! port_free "$port"; do
		port=$((port + 1))
		((port < 55532)) || die "no free port in 55432-55531"
	done

	echo "postgres.sh: initdb in $dir/data" >&2
	as "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
		--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
	as "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" \
		-o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >&2 ||
		{ cat "$dir/postgres.log" >&2; die "pg_ctl start failed"; }

	# The test database collates linguistically (ICU en-US), as production
	# databases often do, so that the store's byte-order sorting is tested;
	# a server built without ICU gets the cluster's default collation.
	local psql=("$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q)
	as "${psql[@]}" -c "CREATE ROLE parley LOGIN PASSWORD 'parley'" >&2
	as "${psql[@]}" -c "CREATE DATABASE parley_test OWNER parley TEMPLATE template0
		LOCALE_PROVIDER icu ICU_LOCALE 'en-US'" >&2 2>/dev/null ||
		as "${psql[@]}" -c "CREATE DATABASE parley_test OWNER parley" >&2
	echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
	echo "export PARLEY_TEST_POSTGRES_DSN=postgres://parley:parley@127.0.0.1:$port/parley_test?sslmode=disable"
	echo "export PARLEY_TEST_POSTGRES_DIR=$dir"
}

stop() {
	local dir=${1:-}
	[[ -n $dir && -f $dir/data/PG_VERSION ]] || die "usage: $0 stop DIR (a directory made by $0)"
	as "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
	rm -rf -- "$dir"
	echo "postgres.sh: stopped and removed $dir" >&2
}

case ${1:-start} in
start) start ;;
stop) stop "${2:-}" ;;
*) die "usage: $0 [start | stop DIR]" ;;
esac
