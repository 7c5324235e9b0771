import ChatDevKit
import Foundation
import Testing

/// A whole system for one test: the embedded broker and the four real service executables
/// as processes, with stores and logs in a fresh folder.
struct RunningSystem {
    let cluster: DevCluster
    let client: ChatClient

    static func start(environment: [String: String] = [:]) async throws -> RunningSystem {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("livechat-e2e-\(UUID().uuidString.prefix(8))")
        var environment = environment
        environment["CHAT_LOG_LEVEL"] = environment["CHAT_LOG_LEVEL"] ?? "info"
        environment["PRESENCE_AGENTS"] = environment["PRESENCE_AGENTS"] ?? TestAccounts.standard
        let cluster = DevCluster(options: .init(binDirectory: DevCluster.defaultBinDirectory(), dataDirectory: data,
                                                gatewayPort: DevCluster.freePort(), environment: environment))
        do {
            try await cluster.startAll()
        } catch {
            await cluster.stopAll()
            throw error
        }
        return RunningSystem(cluster: cluster, client: ChatClient(baseURL: cluster.gatewayURL))
    }

    func stop() async {
        await cluster.stopAll()
    }

    /// Runs `body` against a fresh system and always stops it; on failure the logs' tails
    /// are printed so CI output shows what the services said.
    static func with(environment: [String: String] = [:], _ body: (RunningSystem) async throws -> Void) async throws {
        let system = try await start(environment: environment)
        do {
            try await body(system)
            await system.stop()
            try? FileManager.default.removeItem(at: system.cluster.options.dataDirectory)
        } catch {
            await system.stop()
            system.printLogTails()
            throw error
        }
    }

    func printLogTails() {
        for component in DevCluster.Component.allCases {
            let text = (try? String(contentsOf: cluster.logFile(component), encoding: .utf8)) ?? ""
            print("---- \(component.rawValue) log (tail) ----\n" + text.split(separator: "\n").suffix(25).joined(separator: "\n"))
        }
    }

    func log(_ component: DevCluster.Component) -> String {
        (try? String(contentsOf: cluster.logFile(component), encoding: .utf8)) ?? ""
    }

    // MARK: Flow helpers

    /// Waits until `department` is open or closed as the gateway reports it.
    func waitForDepartment(_ department: String, open: Bool, timeout: Duration = .seconds(20)) async throws {
        try await eventually(timeout: timeout, "department \(department) open=\(open)") {
            let reply = try await client.request("GET", "/api/v1/departments")
            return reply.body["departments"]?.array.contains { $0["departmentId"]?.string == department && $0["open"]?.bool == open } == true
        }
    }

    /// An agent signed in with one socket open, once their department shows open.
    func connectAgent(_ agentId: String, department: String = "support") async throws -> (token: String, socket: ChatSocket) {
        let token = try await eventuallyValue("agent \(agentId) known to the gateway") { try? await client.agent(agentId) }
        let socket = try await client.socket(token: token)
        _ = try await socket.next(type: "hello")
        try await waitForDepartment(department, open: true)
        return (token, socket)
    }

    func startChat(visitorToken: String, department: String = "support") async throws -> String {
        let reply = try await client.request("POST", "/api/v1/chats", token: visitorToken, json: ["departmentId": department])
        guard reply.status == 201 || reply.status == 200, let chatId = reply.body["chat"]?["chatId"]?.string else {
            throw ClientError("start chat failed: \(reply.status) \(reply.text)")
        }
        return chatId
    }
}

func eventually(timeout: Duration = .seconds(20), _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ClientError("timed out waiting for \(what)")
}

func eventuallyValue<T>(timeout: Duration = .seconds(20), _ what: String, _ produce: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await produce() { return value }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ClientError("timed out waiting for \(what)")
}

extension ChatSocket {
    /// Collects `count` message frames of `chatId`, failing on a gap, repeat or reorder.
    func messages(_ count: Int, of chatId: String, timeout: Duration = .seconds(20)) async throws -> [JSON] {
        var messages: [JSON] = []
        while messages.count < count {
            let frame = try await next(timeout: timeout) { $0["type"]?.string == "message" && $0["message"]?["chatId"]?.string == chatId }
            messages.append(frame["message"]!)
        }
        return messages
    }
}

/// Runs a program to completion and returns its exit status and combined output.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                directory: URL? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    process.standardInput = FileHandle.nullDevice
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
