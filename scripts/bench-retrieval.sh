#!/usr/bin/env bash
# Retrieval (issue 10): the rag-chain's vector search (`ChunkRetriever`, Shared/Retrieval) over BENCH_CHUNKS
# (100,000) synthetic 384-d chunks of 2 tenants × 3 visibilities, BENCH_QUERIES (1,000) queries with a tier
# filter — recall@10 against an exact scan (goal ≥ 0.95) and p50/p99 latency per call (goal p99 ≤ 20 ms).
#
# Release build of `retrieval-bench` (Benchmarks/retrieval), run against a private local Postgres
# (scripts/local-postgres.sh, the same PostgreSQL + pgvector and settings as the local stack) started for the
# run and stopped at its end. retrieval-bench creates a database, applies the project's migrations, bulk-loads
# the chunks with the HNSW index of migration 0001 dropped and builds it afterwards, computes each query's
# exact top 10 by a sequential scan with the same filter, then times `ChunkRetriever.retrieve` one call at a
# time. It checks that its figures mean what they say: the exact queries' plans are sequential scans, the
# retriever's plans scan the HNSW index, and the index's scan counter grew by one per retriever call. See the
# header of Benchmarks/retrieval/main.swift for the data and every step.
# Fails (status 1) on an error or a failed check; a missed goal is printed, not failed.
#
# Tunables (environment; passed on to retrieval-bench):
#   BENCH_CHUNKS=100000      chunks loaded
#   BENCH_QUERIES=1000       timed queries (after BENCH_WARM_UP=100 unmeasured ones)
#   BENCH_EF_SEARCH=100      hnsw.ef_search of the main pass (the rag-chain's RAG_RETRIEVAL_EF_SEARCH default)
#   BENCH_EF_SWEEP=          comma-separated extra ef_search values, each a pass of its own (e.g. 40,200)
#   BENCH_CLUSTERS, BENCH_NOISE, BENCH_QUERY_NOISE, BENCH_SEED, BENCH_BATCH, BENCH_MAINTENANCE_WORK_MEM:
#                            the data and the load (Benchmarks/retrieval/main.swift)
#   BENCH_KEEP=1             keep the run directory .run/bench-retrieval (and the server's data: stop it with
#                            scripts/local-postgres.sh stop .run/bench-retrieval/postgres) after success
#   BENCH_SKIP_BUILD=1       use the release binary already in .build/release (no swift build)
set -euo pipefail
cd "$(dirname "$0")/.."

run_root=.run/bench-retrieval

bench_name=bench-retrieval bench_run_dir=$run_root bench_stop_grace=30
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

postgres_dir=$run_root/postgres
postgres_started=""
bench_stop_more() {
  if [ -n "$postgres_started" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
    scripts/local-postgres.sh stop "$postgres_dir" > /dev/null 2>&1 || true
  fi
}

if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
  bin=.build/release
  [ -x "$bin/retrieval-bench" ] || die "BENCH_SKIP_BUILD=1, but $bin/retrieval-bench is missing"
else
  swift build -c release --product retrieval-bench
  bin=$(swift build -c release --show-bin-path)
fi

# A private server: none of the caller's (RAG_DATABASE_URL, a test run's registry) is used or recorded.
unset RAG_DATABASE_URL LOCAL_POSTGRES_REGISTRY
rm -rf "$run_root"
mkdir -p "$run_root"
postgres_started=yes
database_url=$(scripts/local-postgres.sh start "$postgres_dir" 2> "$run_root/local-postgres.log") \
  || { cat "$run_root/local-postgres.log" >&2; die "the local Postgres did not start"; }
log "PostgreSQL at $database_url; running retrieval-bench"

RAG_DATABASE_URL=$database_url "$bin/retrieval-bench" > "$run_root/retrieval.out" 2> >(tee "$run_root/retrieval.err" >&2) \
  || { cat "$run_root/retrieval.out"; die "retrieval-bench failed"; }
echo
echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), shared with whatever else runs; local Postgres"
echo "(scripts/local-postgres.sh: shared_buffers 128MB, fsync off), release build."
cat "$run_root/retrieval.out"
