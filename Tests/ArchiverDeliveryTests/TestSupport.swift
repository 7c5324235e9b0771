import DeliveryTestServers
import ArchiverDelivery
import ChatStore
import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import NIOSSL

enum TestSupport {
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "delivery-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func store(in directory: String) throws -> ServiceStore {
        try ServiceStore(path: directory + "/archiver.sqlite", migrations: [DeliveryOutbox.migration])
    }

    static var logger: Logger {
        var logger = Logger(label: "delivery-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["DELIVERY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }

    /// A port nobody listens on (bound once, then released).
    static func unusedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    static func status(_ store: ServiceStore, _ id: String) async throws -> DeliveryStatus? {
        try await store.database.read { db in try DeliveryOutbox.status(db, id: id) }
    }

    /// Polls until the delivery left `pending` (or the time is up) and returns its status.
    static func waitUntilFinished(_ store: ServiceStore, _ id: String, timeout: Duration = .seconds(20)) async throws -> DeliveryStatus? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try await status(store, id), status.state != "pending" { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await status(store, id)
    }

    /// Polls `condition` until it holds or the time is up.
    static func waitUntil(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    static let opensslPath = "/usr/bin/openssl"
    static var hasOpenSSL: Bool { FileManager.default.isExecutableFile(atPath: opensslPath) }

    /// A self-signed certificate for "localhost" and 127.0.0.1, made with the openssl CLI.
    static func selfSignedCertificate() throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: opensslPath)
        process.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestError("openssl exited with \(process.terminationStatus)") }
        guard let certificate = try NIOSSLCertificate.fromPEMFile(directory + "/cert.pem").first else { throw TestError("no certificate") }
        return (certificate,
                try NIOSSLPrivateKey(file: directory + "/key.pem", format: .pem))
    }

    /// An IPv4 address of this machine that is not loopback, if there is one.
    static let nonLoopbackIPv4: String? = {
        let devices = (try? System.enumerateDevices()) ?? []
        return devices.compactMap { $0.address?.ipAddress }.first { ip in
            !ip.hasPrefix("127.") && !ip.contains(":") && ip != "0.0.0.0"
        }
    }()
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
