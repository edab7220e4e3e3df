#!/usr/bin/env python3
"""Prints what `make test` ran, per test target, from Swift Testing's JUnit XML reports.

    scripts/test-summary.py REPORT.xml...

Each target is marked with what it ran against (the local broker, Postgres, worker processes), so the
summary shows the integration tests ran. Exits 1 when a report is missing or holds failures or skips:
every test is expected to run.
"""
import collections
import os
import sys
import xml.etree.ElementTree as ET

# What each target's tests need beyond the test process.
AGAINST = {
    "MessagingTests": "Kafka protocol over TCP: the local broker (or KAFKA_BOOTSTRAP_SERVERS)",
    "PersistenceTests": "Postgres with pgvector (plus a private server for the restart test)",
    "ServiceTests": "gateway/embedder processes + a private broker + Postgres + the fake model server",
    "ModelClientsTests": "HTTP: the fake model server over TCP and a Unix socket",
    "FakeModelServerTests": "HTTP: the fake model server",
    "WorkerRuntimeTests": "worker processes and their admin HTTP endpoints",
    "SchemasTests": "Python's jsonschema (cross-check)",
    "MiniLMTests": "the MiniLM model files and the reference embeddings",
}


def main(paths):
    tests = collections.Counter()
    failed = collections.Counter()
    skipped = collections.Counter()
    for path in paths:
        if not os.path.exists(path):
            print(f"test summary: {path} is missing", file=sys.stderr)
            return 1
        for case in ET.parse(path).getroot().iter("testcase"):
            target = case.get("classname", "?").split(".")[0]
            tests[target] += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed[target] += 1
            if case.find("skipped") is not None:
                skipped[target] += 1

    print("\nmake test summary")
    print(f"  Kafka:    {os.environ.get('RAG_KAFKA_BOOTSTRAP_SERVERS', '(not set)')}")
    print(f"  Postgres: {os.environ.get('RAG_DATABASE_URL', '(not set)')}")
    width = max(len(target) for target in tests) if tests else 10
    for target in sorted(tests):
        status = f"{tests[target]:4d} tests"
        if failed[target]:
            status += f", {failed[target]} FAILED"
        if skipped[target]:
            status += f", {skipped[target]} skipped"
        print(f"  {target:<{width}}  {status}   {AGAINST.get(target, 'in process')}")
    total, total_failed, total_skipped = sum(tests.values()), sum(failed.values()), sum(skipped.values())
    print(f"  {'all':<{width}}  {total:4d} tests, {total_failed} failed, {total_skipped} skipped")
    return 0 if total and not total_failed and not total_skipped else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
