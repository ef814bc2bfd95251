#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the vault's tests and for trying several nodes out:
#   scripts/postgres.sh start DIR PORT    # initdb on first use (user arca, password $PGPASSWORD or arca-test), database arca
#   scripts/postgres.sh stop DIR          # fast shutdown
#   scripts/postgres.sh kill DIR          # kill -9 the postmaster (a crash)
# Runs the server as the `postgres` user when called as root (PostgreSQL refuses to run as root).
set -euo pipefail
# Descriptors a caller leaked to us (pipes it reads to the end) must not live on in the postmaster.
# That includes 255, where bash keeps the script it reads unless the caller left something there already (as
# Foundation's Process can: the socket it watches for the child's exit, which a postmaster holding it would
# keep open for ever).
script=$(readlink -f "$0")
for fd in /proc/$$/fd/*; do
    n=${fd##*/}
    if [ "$n" -gt 2 ] && { [ "$n" != 255 ] || [ "$(readlink "$fd")" != "$script" ]; }; then eval "exec $n>&-" 2>/dev/null || true; fi
done
cmd=${1:?start|stop|kill}
dir=${2:?data directory}
port=${3:-5432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 2; }
password=${PGPASSWORD:-arca-test}
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        pw=$(mktemp)
        printf '%s\n' "$password" > "$pw"
        [ "$(id -u)" = 0 ] && chown postgres "$pw"
        as_owner "$bin/initdb" -D "$dir" -U arca --auth=scram-sha-256 --pwfile="$pw" >/dev/null
        rm -f "$pw"
        fresh=1
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start </dev/null >/dev/null 2>>"$dir/pg_ctl.log"
    if [ "${fresh:-0}" = 1 ]; then
        PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U arca arca
    fi
    ;;
stop) as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop </dev/null >/dev/null 2>>"$dir/pg_ctl.log" ;;
kill) kill -9 "$(head -1 "$dir/postmaster.pid")" ;;
*) echo "postgres.sh: start|stop|kill" >&2; exit 2 ;;
esac
