// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "outpost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "outpost", targets: ["outpost"]),
        // For the benchmark package under Benchmarks/ (kept separate so `make test` never builds it).
        .library(
            name: "OutpostCore", targets: ["OutpostModel", "Exposition", "Relabel", "Scrape", "WAL", "RemoteWrite", "OutpostConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Already in the graph through AsyncHTTPClient; named for TLS settings and SigV4's HMAC.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // Tests only: generated remote-write types (proto/, committed) check the hand-written encoders.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // C glue: one header each over the Debian system libraries.
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .target(name: "CRE2", linkerSettings: [.linkedLibrary("re2"), .linkedLibrary("stdc++")]),

        .target(name: "OutpostModel", swiftSettings: strict),
        .target(
            name: "Telemetry",
            dependencies: [
                "OutpostModel",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Exposition", dependencies: ["OutpostModel"], swiftSettings: strict),
        .target(name: "Relabel", dependencies: ["OutpostModel", "CRE2"], swiftSettings: strict),
        .target(
            name: "OutpostConfig",
            dependencies: ["OutpostModel", "Relabel", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "Transport",
            dependencies: [
                "OutpostConfig", "Telemetry",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Discovery",
            dependencies: [
                "OutpostConfig", "OutpostModel", "Transport", "Telemetry", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ], swiftSettings: strict),
        .target(
            name: "WAL",
            dependencies: ["OutpostModel", "Telemetry", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Scrape",
            dependencies: [
                "Exposition", "Relabel", "Discovery", "WAL", "Transport", "Telemetry", "OutpostConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RemoteWrite",
            dependencies: [
                "WAL", "OutpostConfig", "Relabel", "Transport", "Telemetry", "CSnappy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Web",
            dependencies: [
                "Telemetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "outpost",
            dependencies: [
                "OutpostModel", "OutpostConfig", "Discovery", "WAL", "Scrape", "RemoteWrite", "Web", "Telemetry", "Transport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // Generated once from proto/*.proto with protoc-gen-swift 1.39 and committed.
        .target(
            name: "RemoteWriteProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: [.swiftLanguageMode(.v6)]),

        .testTarget(name: "OutpostModelTests", dependencies: ["OutpostModel"], swiftSettings: strict),
        .testTarget(name: "ExpositionTests", dependencies: ["Exposition", "OutpostModel"], swiftSettings: strict),
        .testTarget(name: "RelabelTests", dependencies: ["Relabel", "OutpostModel"], swiftSettings: strict),
        .testTarget(name: "OutpostConfigTests", dependencies: ["OutpostConfig", .product(name: "Yams", package: "Yams")], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "OutpostConfig"], swiftSettings: strict),
        .testTarget(name: "WALTests", dependencies: ["WAL", "OutpostModel", "Telemetry"], swiftSettings: strict),
        .testTarget(
            name: "DiscoveryTests", dependencies: ["Discovery", "OutpostConfig"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "ScrapeTests", dependencies: ["Scrape", "OutpostModel", "Relabel"], swiftSettings: strict),
        .testTarget(
            name: "RemoteWriteTests",
            dependencies: [
                "RemoteWrite", "WAL", "OutpostModel", "Relabel", "CSnappy", "RemoteWriteProto", "OutpostConfig", "Telemetry",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Runs the real binary; CSnappy only to read what it sends.
        .testTarget(name: "EndToEndTests", dependencies: ["CSnappy", "RemoteWriteProto"], swiftSettings: strict),
    ],
    cxxLanguageStandard: .cxx17
)
