#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: Debian's server binaries, its own data directory
# under target/pg/NAME, run as an unprivileged user, listening on loopback only, trusting local
# connections (nothing but this machine can reach it).
#
#   tests/pg/cluster.sh start [NAME]   initdb on first use, start, print the URL
#   tests/pg/cluster.sh stop [NAME]    stop (fast: open connections are cut)
#   tests/pg/cluster.sh url [NAME]     print the URL of a started cluster
#   tests/pg/cluster.sh destroy [NAME] stop and delete its data
#
# NAME defaults to "main". The port is the first free one from AMAZONPAY2_PG_PORT (55432).
set -euo pipefail
cd "$(dirname "$0")/../.."

command="${1:-}"
name="${2:-main}"
case "$name" in *[!a-z0-9_-]*|'') echo "cluster name: letters, digits, - and _ only" >&2; exit 2 ;; esac
root="$PWD/target/pg"
base="$root/$name"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The newest installed server: a version folder with pg_ctl (postgresql-client-N alone has a
# bin folder too, with psql but no server).
server_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  done
}

# Prints the server's bin folder (this script's stdout is the URL: everything else to stderr).
bin_dir() {
  local dir
  dir=$(server_bin)
  if [ -z "$dir" ]; then
    echo "==> installing postgresql (Debian package)" >&2
    as_root apt-get update -qq >&2
    # Through env: sudo would drop a variable set in front of it (root needs no sudo).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # The package's own cluster is not ours: leave it stopped.
    as_root systemctl stop postgresql >/dev/null 2>&1 || as_root service postgresql stop >/dev/null 2>&1 || true
    dir=$(server_bin)
    [ -n "$dir" ] || { echo "postgresql installed, but no pg_ctl under /usr/lib/postgresql/*/bin" >&2; exit 1; }
  fi
  echo "$dir"
}

# The server refuses to run as root: as root, run it as the package's `postgres` user (or a
# user made for this).
run_user() {
  if [ "$(id -u)" != 0 ]; then id -un; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  id amazonpay2-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin amazonpay2-pg
  echo amazonpay2-pg
}

# Runs a command as USER from / (every path given is absolute): the working folder, a checkout
# under root's private home, say, may be closed to that user, and PostgreSQL's tools complain.
as_user() {
  local user="$1"; shift
  if [ "$(id -un)" = "$user" ]; then "$@"; else (cd / && runuser -u "$user" -- "$@"); fi
}

# Where the data lives: target/pg/NAME, unless the user cannot reach it (a checkout under a
# private home folder); then a private folder under /tmp, named in target/pg/NAME.where.
data_dir() {
  if [ -f "$base.where" ]; then cat "$base.where"; return; fi
  echo "$base"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

url_of() {
  local dir; dir=$(data_dir)
  [ -f "$dir/port" ] || { echo "cluster $name was never started" >&2; exit 1; }
  echo "postgres://$(cat "$dir/user")@127.0.0.1:$(cat "$dir/port")/amazonpay2"
}

start() {
  local bin user dir port
  bin=$(bin_dir)
  user=$(run_user)
  mkdir -p "$root"
  dir=$(data_dir)
  if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown "$user" "$dir"; fi
    if ! as_user "$user" test -w "$dir"; then
      dir=$(mktemp -d /tmp/amazonpay2-pg-XXXXXX)
      chown "$user" "$dir"
      echo "$dir" > "$base.where"
    fi
    as_user "$user" "$bin/initdb" -D "$dir/pgdata" -U "$user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "$user" > "$dir/user"
  fi
  if as_user "$user" "$bin/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then url_of; return; fi
  port=${AMAZONPAY2_PG_PORT:-55432}
  if [ -f "$dir/port" ] && port_free "$(cat "$dir/port")"; then port=$(cat "$dir/port"); fi
  # A port nothing listens on may still be taken (by a connection's own end: these ports lie in
  # the range the system gives outgoing connections), so a port PostgreSQL cannot bind is passed.
  local tries=0
  while :; do
    while ! port_free "$port"; do port=$((port + 1)); done
    echo "$port" > "$dir/port"
    # TCP on loopback only, no Unix socket (its path, under a deep checkout, could pass the
    # 107-byte limit; the tests and this script connect over TCP).
    as_user "$user" "$bin/pg_ctl" -D "$dir/pgdata" -l "$dir/log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c max_connections=300 -c fsync=off" \
      start >/dev/null 2>&1 && break
    tries=$((tries + 1))
    if [ "$tries" -ge 5 ] || ! tail -3 "$dir/log" | grep -q 'could not create any TCP/IP sockets'; then
      echo "PostgreSQL did not start; its log:" >&2; tail -20 "$dir/log" >&2; exit 1
    fi
    port=$((port + 1))
  done
  if ! as_user "$user" "$bin/psql" -h 127.0.0.1 -p "$port" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'amazonpay2'" | grep -q 1; then
    as_user "$user" "$bin/createdb" -h 127.0.0.1 -p "$port" amazonpay2
  fi
  url_of
}

stop() {
  local dir; dir=$(data_dir)
  [ -f "$dir/pgdata/PG_VERSION" ] || return 0
  as_user "$(cat "$dir/user")" "$(bin_dir)/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null 2>&1 || true
}

case "$command" in
  start) start ;;
  stop) stop ;;
  url) url_of ;;
  destroy) stop; dir=$(data_dir); rm -rf "$dir" "$base" "$base.where" ;;
  *) echo "usage: $0 start|stop|url|destroy [NAME]" >&2; exit 2 ;;
esac
