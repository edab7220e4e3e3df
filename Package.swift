// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "kafka-rag",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gateway", targets: ["Gateway"]),
        .executable(name: "embedder", targets: ["Embedder"]),
        .executable(name: "rag-chain", targets: ["RagChain"]),
        .executable(name: "outbox-relay", targets: ["OutboxRelay"]),
        .executable(name: "review-sampler", targets: ["ReviewSampler"]),
        .executable(name: "ragctl", targets: ["RagCtl"]),
        .executable(name: "minilm-bench", targets: ["MiniLMBench"]),
        .executable(name: "consumer-soak", targets: ["ConsumerSoak"]),
        .executable(name: "retrieval-bench", targets: ["RetrievalBench"]),
        .executable(name: "fake-model-server", targets: ["FakeModelServerCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter would add grpc-swift to every build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CRdKafka", path: "Shared/CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CCurl", path: "Shared/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // Shared libraries: the plumbing every worker stands on.
        .target(
            name: "Messaging",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Shared/Messaging"
        ),
        .target(
            name: "Persistence",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")],
            path: "Shared/Persistence",
            resources: [.copy("Migrations")]
        ),
        .target(
            name: "ModelClients",
            dependencies: [
                "CCurl", "MiniLM", "WorkerRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/ModelClients"
        ),
        // The encoder's Swift kernels are SIMD code for x86-64-v3 (AVX2 + FMA, no AVX-512), optimised in debug builds
        // too: unoptimised SIMD types are a function call per lane, which would make the MiniLM tests crawl.
        .target(
            name: "MiniLM", dependencies: ["CMiniLM"], path: "Shared/MiniLM",
            swiftSettings: [.unsafeFlags(["-O", "-Xcc", "-march=x86-64-v3"])]
        ),
        // Its C side: OpenBLAS (libopenblas-dev) and AVX-512 kernels (per-function target attributes) that run
        // only after a CPU check. Optimised in debug builds too.
        .target(
            name: "CMiniLM", path: "Shared/CMiniLM", cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("openblas")]
        ),
        .target(
            name: "Auth",
            dependencies: [
                "ModelClients", "WorkerRuntime", "Schemas",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Auth"
        ),
        .target(
            name: "Schemas",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Shared/Schemas",
            resources: [.copy("JSON")]
        ),
        .target(
            name: "WorkerRuntime",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            path: "Shared/WorkerRuntime"
        ),
        // The vector search inside Postgres (tenant, tier and model filters in the query), used by the rag-chain
        // and measured by retrieval-bench.
        .target(
            name: "Retrieval",
            dependencies: ["Persistence", "Schemas", .product(name: "Metrics", package: "swift-metrics")],
            path: "Shared/Retrieval"
        ),

        // Workers: main.swift wires config → clients → ServiceGroup; <Name>Service.swift holds the flow.
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "WorkerRuntime", "Messaging", "Auth", "Schemas",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Services/gateway"
        ),
        .executableTarget(
            name: "Embedder",
            dependencies: [
                "WorkerRuntime", "Messaging", "Persistence", "ModelClients", "Schemas",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/embedder"
        ),
        .executableTarget(
            name: "RagChain",
            dependencies: [
                "WorkerRuntime", "Messaging", "Persistence", "ModelClients", "Schemas", "Auth", "Retrieval",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/rag-chain",
            resources: [.copy("Prompts")]
        ),
        .executableTarget(
            name: "OutboxRelay",
            dependencies: [
                "WorkerRuntime", "Messaging", "Persistence",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Services/outbox-relay"
        ),
        .executableTarget(
            name: "ReviewSampler",
            dependencies: [
                "WorkerRuntime", "Messaging", "Schemas",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/review-sampler"
        ),
        .executableTarget(
            name: "RagCtl",
            dependencies: [
                "Messaging", "Persistence", "MiniLM", "WorkerRuntime", "Auth", "ModelClients", "Schemas",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/ragctl"
        ),
        .executableTarget(name: "MiniLMBench", dependencies: ["MiniLM"], path: "Benchmarks/minilm"),
        .executableTarget(
            name: "ConsumerSoak",
            dependencies: ["Messaging", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/consumer-soak"
        ),
        .executableTarget(name: "RetrievalBench", dependencies: ["Retrieval", "Persistence", "Auth"], path: "Benchmarks/retrieval"),

        // Test tooling: a real OpenAI-compatible HTTP server with fault controls, the only simulated dependency.
        .target(
            name: "FakeModelServer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tools/FakeModelServer"
        ),
        .executableTarget(
            name: "FakeModelServerCommand",
            dependencies: [
                "FakeModelServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tools/fake-model-server"
        ),

        // Tests mirror the Shared targets. Integration tests need the services `make test` starts.
        // TestSupport: helpers several test targets share (running a command without blocking the pool).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "MessagingTests",
            dependencies: ["Messaging", "TestSupport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Tests/MessagingTests"
        ),
        .testTarget(name: "PersistenceTests", dependencies: ["Persistence", "TestSupport"], path: "Tests/PersistenceTests"),
        .testTarget(
            name: "ModelClientsTests",
            dependencies: [
                "ModelClients", "FakeModelServer", "MiniLM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            path: "Tests/ModelClientsTests"
        ),
        .testTarget(name: "MiniLMTests", dependencies: ["MiniLM", "TestSupport"], path: "Tests/MiniLMTests", exclude: ["Golden"]),
        // The workers as processes against a private broker, Postgres and the fake model server.
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Gateway", "Embedder", "RagChain", "ReviewSampler", "Auth", "Messaging", "ModelClients", "Persistence", "FakeModelServer", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tests/ServiceTests"
        ),
        .testTarget(
            name: "AuthTests",
            dependencies: [
                "Auth",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tests/AuthTests"
        ),
        .testTarget(name: "SchemasTests", dependencies: ["Schemas", "TestSupport"], path: "Tests/SchemasTests"),
        .testTarget(name: "FakeModelServerTests", dependencies: ["FakeModelServer"], path: "Tests/FakeModelServerTests"),
        .testTarget(
            name: "WorkerRuntimeTests",
            dependencies: [
                "WorkerRuntime",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            path: "Tests/WorkerRuntimeTests"
        ),
    ]
)

// One set of Swift settings for every Swift target.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ]
}
