// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "livechat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gateway", targets: ["Gateway"]),
        .executable(name: "router", targets: ["Router"]),
        .executable(name: "presence", targets: ["Presence"]),
        .executable(name: "archiver", targets: ["Archiver"]),
        .executable(name: "dev-broker", targets: ["DevBroker"]),
        .executable(name: "chat-dev", targets: ["ChatDev"]),
        .executable(name: "chat-bench", targets: ["ChatBench"]),
        .executable(name: "chatctl", targets: ["ChatCtl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // MARK: Shared
        .systemLibrary(
            name: "CRDKafka",
            path: "Shared/CRDKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CPangoCairo",
            path: "Shared/CPangoCairo",
            pkgConfig: "pangocairo",
            providers: [.apt(["libpango1.0-dev", "libcairo2-dev"])]
        ),
        .target(
            name: "ChatWire",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Shared/ChatWire",
            swiftSettings: strict
        ),
        .target(
            name: "ChatKafka",
            dependencies: ["CRDKafka", .product(name: "Logging", package: "swift-log")],
            path: "Shared/ChatKafka",
            swiftSettings: strict
        ),
        .target(
            name: "ChatStore",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            path: "Shared/ChatStore",
            swiftSettings: strict
        ),
        .target(
            name: "ChatRuntime",
            dependencies: [
                "ChatWire", "ChatKafka", "ChatStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/ChatRuntime",
            swiftSettings: strict
        ),
        .target(
            name: "ChatOps",
            dependencies: [
                "ChatRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/ChatOps",
            swiftSettings: strict
        ),
        .target(
            name: "ChatDevKit",
            dependencies: [
                "ChatWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            path: "Shared/ChatDevKit",
            swiftSettings: strict
        ),

        // MARK: Gateway
        .target(
            name: "GatewayCore",
            dependencies: [
                "ChatRuntime", "ChatOps", "TranscriptPDF",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            path: "Services/Gateway/GatewayCore",
            resources: [.copy("Public")],
            swiftSettings: strict
        ),
        .executableTarget(name: "Gateway", dependencies: ["GatewayCore"], path: "Services/Gateway/Gateway", swiftSettings: strict),

        // MARK: Router
        .target(name: "RouterCore", dependencies: ["ChatRuntime", "ChatOps"], path: "Services/Router/RouterCore", swiftSettings: strict),
        .executableTarget(name: "Router", dependencies: ["RouterCore"], path: "Services/Router/Router", swiftSettings: strict),

        // MARK: Presence
        .target(name: "PresenceCore", dependencies: ["ChatRuntime", "ChatOps"], path: "Services/Presence/PresenceCore", swiftSettings: strict),
        .executableTarget(name: "Presence", dependencies: ["PresenceCore"], path: "Services/Presence/Presence", swiftSettings: strict),

        // MARK: Archiver
        .target(name: "ArchiverCore", dependencies: ["ChatRuntime", "ChatOps", "ArchiverDelivery", "TranscriptPDF"], path: "Services/Archiver/ArchiverCore", swiftSettings: strict),
        .executableTarget(name: "Archiver", dependencies: ["ArchiverCore"], path: "Services/Archiver/Archiver", swiftSettings: strict),
        .target(name: "TranscriptPDF", dependencies: ["CPangoCairo", "ChatWire"], path: "Services/Archiver/TranscriptPDF", swiftSettings: strict),
        .target(
            name: "ArchiverDelivery",
            dependencies: [
                "ChatStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/Archiver/ArchiverDelivery",
            swiftSettings: strict
        ),

        // MARK: Development tools
        .executableTarget(
            name: "DevBroker",
            dependencies: ["ChatKafka", "ChatWire", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/DevBroker",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ChatDev",
            dependencies: ["ChatDevKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/ChatDev",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ChatCtl",
            dependencies: [
                "ChatRuntime", "ChatKafka", "ChatWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Services/ChatCtl",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ChatBench",
            dependencies: [
                "ChatDevKit", "ChatKafka", "ChatWire", "RouterCore", "ArchiverCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/ChatBench",
            swiftSettings: strict
        ),

        // MARK: Tests
        .testTarget(name: "ChatWireTests", dependencies: ["ChatWire"], path: "Tests/ChatWireTests", resources: [.copy("Vectors")], swiftSettings: strict),
        .testTarget(name: "ChatKafkaTests", dependencies: ["ChatKafka"], path: "Tests/ChatKafkaTests", swiftSettings: strict),
        .testTarget(name: "ChatStoreTests", dependencies: ["ChatRuntime", "ChatStore"], path: "Tests/ChatStoreTests", swiftSettings: strict),
        .testTarget(name: "RouterCoreTests", dependencies: ["RouterCore"], path: "Tests/RouterCoreTests", swiftSettings: strict),
        .testTarget(name: "ArchiverCoreTests", dependencies: ["ArchiverCore", "ChatWire", "ChatStore"], path: "Tests/ArchiverCoreTests", swiftSettings: strict),
        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore", "ChatWire"], path: "Tests/GatewayCoreTests", swiftSettings: strict),
        .testTarget(name: "PresenceCoreTests", dependencies: ["PresenceCore"], path: "Tests/PresenceCoreTests", swiftSettings: strict),
        // Local SMTP and webhook servers that tests deliver to.
        .target(
            name: "DeliveryTestServers",
            dependencies: [
                "ArchiverDelivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/DeliveryTestServers",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ArchiverDeliveryTests",
            dependencies: [
                "ArchiverDelivery", "ChatStore", "DeliveryTestServers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/ArchiverDeliveryTests",
            swiftSettings: strict
        ),
        .testTarget(name: "TranscriptPDFTests", dependencies: ["TranscriptPDF"], path: "Tests/TranscriptPDFTests", swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["ChatDevKit", "ChatWire", "ChatKafka", "GatewayCore", "DeliveryTestServers"], path: "Tests/EndToEndTests", swiftSettings: strict),
    ]
)
