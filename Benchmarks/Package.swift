// swift-tools-version:6.2
// Benchmarks live in their own package so `make test` never builds them. Run with `make bench`.
import PackageDescription

let package = Package(
    name: "outpost-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "outpost", path: "..")
    ],
    targets: [
        .target(name: "CMallocCount"),
        .executableTarget(
            name: "outpost-bench",
            dependencies: [.product(name: "OutpostCore", package: "outpost"), "CMallocCount"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
