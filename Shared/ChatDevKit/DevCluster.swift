import Foundation
import Synchronization

/// Starts the embedded broker and the four services as separate processes, each with its
/// own store under one data folder and its own log file. Used by `chat-dev` (the one-command
/// start), the end-to-end tests and the benchmark.
public final class DevCluster: Sendable {
    public enum Component: String, CaseIterable, Sendable {
        case broker = "dev-broker"
        case presence, router, archiver, gateway
    }

    public struct Options: Sendable {
        /// Folder with the built executables.
        public var binDirectory: URL
        /// Holds `broker.bootstrap`, one folder per service store, and `logs/`.
        public var dataDirectory: URL
        public var gatewayPort: Int
        /// Extra environment for every service (e.g. `PRESENCE_GRACE_SECONDS`).
        public var environment: [String: String]
        /// Extra `dev-broker` arguments (e.g. `--extra-topic bench:12`).
        public var brokerArguments: [String]

        public init(binDirectory: URL, dataDirectory: URL, gatewayPort: Int, environment: [String: String] = [:], brokerArguments: [String] = []) {
            self.binDirectory = binDirectory
            self.dataDirectory = dataDirectory
            self.gatewayPort = gatewayPort
            self.environment = environment
            self.brokerArguments = brokerArguments
        }
    }

    public let options: Options
    /// Each service's ops port (/healthz, /readyz, /metrics); the gateway's is its API port.
    public let opsPorts: [Component: Int]
    private let processes = Mutex<[Component: Process]>([:])
    private let replicas = Mutex<[String: Process]>([:])
    private let bootstrapAddress = Mutex<String?>(nil)

    public init(options: Options) {
        self.options = options
        var ports: [Component: Int] = [.gateway: options.gatewayPort]
        for component in [Component.router, .presence, .archiver] { ports[component] = DevCluster.freePort() }
        opsPorts = ports
    }

    public var gatewayURL: String { "http://127.0.0.1:\(options.gatewayPort)" }
    public var logsDirectory: URL { options.dataDirectory.appendingPathComponent("logs") }
    public var bootstrap: String? { bootstrapAddress.withLock { $0 } }

    /// The folder of the executables next to the running one, or `CHAT_BIN_DIR`.
    public static func defaultBinDirectory() -> URL {
        if let configured = ProcessInfo.processInfo.environment["CHAT_BIN_DIR"] { return URL(fileURLWithPath: configured) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Ports this process handed out, never handed out twice, each with the socket that
    /// holds it (see `freePort`).
    private static let handedOut = Mutex<[Int: Int32]>([:])

    /// A loopback TCP port that is free now, below Linux's ephemeral range (32768+) so
    /// outgoing connections (Kafka clients, HTTP) cannot take it before the service binds.
    /// The port stays held by a bound, never listening socket with SO_REUSEADDR for the life
    /// of this process: a service (which binds with SO_REUSEADDR) can still listen on it,
    /// but another test process looking for a free port (a plain bind) sees it taken, so two
    /// test processes running side by side never pick the same port.
    public static func freePort() -> Int {
        while true {
            let port = Int.random(in: 20_000..<32_000)
            guard handedOut.withLock({ $0[port] == nil }) else { continue }
            // A plain bind fails on any bound socket, another process's holder included.
            guard let probe = bindLoopback(port, reuseAddress: false) else { continue }
            close(probe)
            guard let holder = bindLoopback(port, reuseAddress: true) else { continue }
            handedOut.withLock { $0[port] = holder }
            return port
        }
    }

    /// A socket bound to 127.0.0.1:`port`, or nil when the port is taken.
    private static func bindLoopback(_ port: Int, reuseAddress: Bool) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        if reuseAddress { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Starts the broker, then presence, router, archiver and gateway, and waits until the
    /// gateway answers and knows the departments.
    public func startAll() async throws {
        try await startBroker()
        for component in [Component.presence, .router, .archiver, .gateway] {
            try start(component)
        }
        try await waitUntilReady()
    }

    public func startBroker() async throws {
        let bootstrapFile = options.dataDirectory.appendingPathComponent("broker.bootstrap")
        try? FileManager.default.removeItem(at: bootstrapFile)
        try launch(.broker, arguments: ["--bootstrap-file", bootstrapFile.path, "--ignore-interrupt"] + options.brokerArguments, environment: [:])
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: bootstrapFile, encoding: .utf8), !text.isEmpty {
                bootstrapAddress.withLock { $0 = text.trimmingCharacters(in: .whitespacesAndNewlines) }
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClientError("dev-broker did not write \(bootstrapFile.path); see \(logFile(.broker).path)")
    }

    /// Starts one service with the cluster's environment.
    public func start(_ component: Component) throws {
        guard component != .broker else { throw ClientError("use startBroker() for the broker") }
        guard let bootstrap else { throw ClientError("start the broker first") }
        var environment = options.environment
        environment["CHAT_KAFKA_BOOTSTRAP"] = bootstrap
        environment["CHAT_DATA_DIR"] = options.dataDirectory.appendingPathComponent(component.rawValue).path
        environment["CHAT_INSTANCE_ID"] = environment["CHAT_INSTANCE_ID"] ?? "\(component.rawValue)-1"
        environment["GATEWAY_PORT"] = String(options.gatewayPort)
        if component != .gateway, let port = opsPorts[component] { environment["CHAT_OPS_PORT"] = String(port) }
        try launch(component, arguments: [], environment: environment)
    }

    /// Starts another gateway instance (its own id, store and port) on the same broker, as
    /// a second replica behind a load balancer would run. Stopped by `stopAll`.
    public func startAnotherGateway(instance: Int, port: Int) throws -> String {
        try startReplica(.gateway, instance: instance, environment: ["GATEWAY_PORT": String(port)])
        return "http://127.0.0.1:\(port)"
    }

    /// Starts another instance of a service (its own id, store and ops port) that joins the
    /// same consumer groups. Stopped by `stopAll`.
    public func startReplica(_ component: Component, instance: Int, environment extra: [String: String] = [:]) throws {
        guard let bootstrap else { throw ClientError("start the broker first") }
        let name = "\(component.rawValue)-\(instance)"
        var environment = options.environment.merging(extra) { $1 }
        environment["CHAT_KAFKA_BOOTSTRAP"] = bootstrap
        environment["CHAT_DATA_DIR"] = options.dataDirectory.appendingPathComponent(name).path
        environment["CHAT_INSTANCE_ID"] = name
        environment["CHAT_OPS_PORT"] = String(DevCluster.freePort())
        let process = try spawn(component.rawValue, logName: name, arguments: [], environment: environment)
        replicas.withLock { $0[name] = process }
    }

    /// Stops a replica started by `startReplica` (SIGKILL for a crash) and waits for it.
    /// Starting it again with the same instance number reuses its store, as a restart would.
    public func stopReplica(_ component: Component, instance: Int, signal: Int32 = SIGTERM) {
        guard let process = replicas.withLock({ $0.removeValue(forKey: "\(component.rawValue)-\(instance)") }) else { return }
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
    }

    private func launch(_ component: Component, arguments: [String], environment: [String: String]) throws {
        let process = try spawn(component.rawValue, logName: component.rawValue, arguments: arguments, environment: environment)
        processes.withLock { $0[component] = process }
    }

    private func spawn(_ executableName: String, logName: String, arguments: [String], environment: [String: String]) throws -> Process {
        let executable = options.binDirectory.appendingPathComponent(executableName)
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ClientError("\(executable.path) is missing: build first (swift build)")
        }
        try FileManager.default.createDirectory(at: logsDirectory, withIntermediateDirectories: true)
        let log = logsDirectory.appendingPathComponent("\(logName).log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    public func logFile(_ component: Component) -> URL {
        logsDirectory.appendingPathComponent("\(component.rawValue).log")
    }

    /// The process id of a running component (for measuring it).
    public func processID(_ component: Component) -> Int32? {
        processes.withLock { $0[component].flatMap { $0.isRunning ? $0.processIdentifier : nil } }
    }

    public func isRunning(_ component: Component) -> Bool {
        processes.withLock { $0[component]?.isRunning ?? false }
    }

    /// Sends `signal` (SIGTERM for a graceful stop, SIGKILL for a crash) and waits for exit.
    public func stop(_ component: Component, signal: Int32 = SIGTERM, timeout: Duration = .seconds(15)) async {
        guard let process = processes.withLock({ $0.removeValue(forKey: component) }) else { return }
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Sends a signal without waiting (e.g. SIGUSR1/SIGUSR2 to take the broker down and up).
    public func signal(_ component: Component, _ signal: Int32) {
        guard let process = processes.withLock({ $0[component] }), process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Exit status of a component that stopped by itself.
    public func exitStatus(_ component: Component) -> Int32? {
        processes.withLock { processes in
            guard let process = processes[component], !process.isRunning else { return nil }
            return process.terminationStatus
        }
    }

    /// Stops the services in reverse start order, then the broker.
    public func stopAll() async {
        for process in replicas.withLock({ processes in defer { processes.removeAll() }; return processes.values }) where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        for component in [Component.gateway, .archiver, .router, .presence, .broker] {
            await stop(component)
        }
    }

    /// Waits until the gateway answers and has learnt the departments from presence.
    public func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let client = ChatClient(baseURL: gatewayURL)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reply = try? await client.request("GET", "/api/v1/departments"), reply.status == 200,
               !(reply.body["departments"]?.array.isEmpty ?? true) {
                return
            }
            for component in Component.allCases where exitStatus(component) != nil {
                throw ClientError("\(component.rawValue) exited; see \(logFile(component).path)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClientError("the gateway did not become ready at \(gatewayURL); see \(logsDirectory.path)")
    }
}
