import ArgumentParser
import ChatDevKit
import Foundation

/// The one-command local start: embedded broker plus the four services, stores and logs
/// under one data folder, until Ctrl-C.
@main
struct ChatDev: AsyncParsableCommand {
    /// Writes a line at once, so a pipe or log file sees it while we run.
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static let configuration = CommandConfiguration(
        commandName: "chat-dev",
        abstract: "Run the embedded broker and gateway, router, presence and archiver on this machine.")

    @Option(help: "Folder for the stores, the broker address and the logs.")
    var data: String = "./data"

    @Option(help: "Gateway HTTP and WebSocket port.")
    var port: Int = 8080

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
    }

    func run() async throws {
        let dataDirectory = URL(fileURLWithPath: data).standardizedFileURL
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let cluster = DevCluster(options: .init(binDirectory: DevCluster.defaultBinDirectory(), dataDirectory: dataDirectory, gatewayPort: port))
        let stop = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
            source.setEventHandler { stop.continuation.yield(signalNumber) }
            source.resume()
            sources.append(source)
        }
        Self.say("starting the embedded broker and the four services (data and logs in \(dataDirectory.path))")
        do {
            try await cluster.startAll()
        } catch {
            Self.say("start failed: \(error)")
            await cluster.stopAll()
            throw ExitCode.failure
        }
        let admin = await provisionFirstAdmin(cluster: cluster, dataDirectory: dataDirectory)
        Self.say("""

        Live chat is running.
          gateway (HTTP + WebSocket): \(cluster.gatewayURL)
          departments:                \(cluster.gatewayURL)/api/v1/departments
          widget demo page:           \(cluster.gatewayURL)/demo.html
          agent console:              \(cluster.gatewayURL)/console.html
          admin sign-in:              \(admin)
          health and metrics:         \(cluster.gatewayURL)/readyz, /metrics; router :\(cluster.opsPorts[.router] ?? 0), presence :\(cluster.opsPorts[.presence] ?? 0), archiver :\(cluster.opsPorts[.archiver] ?? 0)
          broker (embedded, memory):  \(cluster.bootstrap ?? "?")
          logs:                       \(cluster.logsDirectory.path)
        Press Ctrl-C to stop.
        """)
        // Watch for a service that dies, and for Ctrl-C.
        let watcher = Task {
            while !Task.isCancelled {
                for component in DevCluster.Component.allCases {
                    if let status = cluster.exitStatus(component) {
                        Self.say("\(component.rawValue) exited with status \(status); see \(cluster.logFile(component).path)")
                        stop.continuation.yield(0)
                        return
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        var iterator = stop.stream.makeAsyncIterator()
        _ = await iterator.next()
        watcher.cancel()
        Self.say("stopping...")
        await cluster.stopAll()
        Self.say("stopped")
        withExtendedLifetime(sources) {}
    }

    /// On the first start of a data folder, an approved admin (also supervisor and agent of
    /// every configured department) with a random password kept in `admin-password` (mode
    /// 0600), created by `chatctl create-admin` as an operator would. Never a fixed password.
    func provisionFirstAdmin(cluster: DevCluster, dataDirectory: URL) async -> String {
        let file = dataDirectory.appendingPathComponent("admin-password")
        if FileManager.default.fileExists(atPath: file.path) { return "admin, password in \(file.path)" }
        var bytes = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        let password = String((0..<20).map { _ in alphabet[Int(bytes.next() % UInt64(alphabet.count))] })
        guard FileManager.default.createFile(atPath: file.path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            return "not created (cannot write \(file.path))"
        }
        let departments = (ProcessInfo.processInfo.environment["PRESENCE_DEPARTMENTS"] ?? "support:Customer Support;sales:Sales")
            .split(separator: ";").compactMap { $0.split(separator: ":").first.map { $0.trimmingCharacters(in: .whitespaces) } }
        let process = Process()
        process.executableURL = cluster.options.binDirectory.appendingPathComponent("chatctl")
        process.arguments = ["create-admin", "--login", "admin", "--name", "Administrator", "--departments", departments.joined(separator: ","),
                             "--password-file", file.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["CHAT_KAFKA_BOOTSTRAP": cluster.bootstrap ?? ""]) { $1 }
        let log = cluster.logsDirectory.appendingPathComponent("chatctl.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        if let handle = try? FileHandle(forWritingTo: log) {
            process.standardOutput = handle
            process.standardError = handle
        }
        do {
            try process.run()
            while process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        } catch {
            try? FileManager.default.removeItem(at: file)
            return "not created (\(error))"
        }
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(at: file)
            return "not created; see \(log.path)"
        }
        return "admin, password in \(file.path)"
    }
}
