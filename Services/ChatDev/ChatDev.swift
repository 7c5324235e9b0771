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
        Self.say("""

        Live chat is running.
          gateway (HTTP + WebSocket): \(cluster.gatewayURL)
          departments:                \(cluster.gatewayURL)/api/v1/departments
          widget demo page:           \(cluster.gatewayURL)/demo.html
          agent console:              \(cluster.gatewayURL)/console.html
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
}
