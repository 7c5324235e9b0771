import ArgumentParser
import ChatDevKit
import ChatKafka
import Foundation
import ChatWire
import Logging
import RouterCore

/// Measures visitor→agent message latency through the running system (HTTP, WebSocket,
/// gateway, Kafka, gateway view, WebSocket push) at a fixed rate, next to the bare broker
/// floor (producer→consumer on the same broker with the same settings).
@main
struct ChatBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "End-to-end message latency p50/p99 versus the broker floor. Build first: swift build -c release")

    @Option(help: "Messages per second, in total.")
    var rate: Int = 200

    @Option(help: "Seconds of measurement per phase.")
    var seconds: Int = 10

    @Option(help: "Concurrent chats (visitor and agent socket pairs).")
    var chats: Int = 10

    @Option(help: "Consumer fetch.wait.max.ms for the services and the floor consumer (the embedded broker's latency is about half of it).")
    var fetchWaitMs: Int = 10

    @Option(help: "Producer linger.ms for the services and the floor producer.")
    var lingerMs: Int = 2

    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        /// Visitor → agent message latency next to the broker floor.
        case messages
        /// Routing decisions per second (router state machine, in process) and chat request →
        /// automatic assignment latency through the running system.
        case routing
        /// Streams a CSV export of `--archived` chats (filed into the archiver's store by the
        /// archiver's own filing code) through `chatctl export`, sampling the archiver's and
        /// gateway's memory.
        case export
    }

    @Option(help: "Export: how many archived chats to export.")
    var archived: Int = 100_000

    @Option(help: "What to measure: messages, routing or export.")
    var scenario: Scenario = .messages

    @Option(help: "Routing: router instances sharing the partitions (1-4).")
    var routers: Int = 1

    @Flag(help: "Routing: offer chats (ROUTER_OFFER_TIMEOUT_SECONDS=30) and time request → offer instead of request → assignment.")
    var offers = false

    /// The `chat.updated` change the routing measurements wait for.
    var decisionChange: String { offers ? "offered" : "assigned" }

    /// Routing runs over four departments, each with one agent, so the queues spread over
    /// partitions (and, with several routers, over instances).
    static let benchDepartments = (0..<4).map { "d\($0)" }

    static let floorTopic = "bench.floor"

    func validate() throws {
        guard (1...5_000).contains(rate) else { throw ValidationError("--rate must be 1...5000") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1...600") }
        guard (1...100).contains(chats) else { throw ValidationError("--chats must be 1...100") }
        guard (1...4).contains(routers) else { throw ValidationError("--routers must be 1...4") }
        guard (1...2_000_000).contains(archived) else { throw ValidationError("--archived must be 1...2000000") }
    }

    func run() async throws {
        if scenario == .routing { return try await runRouting() }
        if scenario == .export { return try await runExport() }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("livechat-bench-\(UUID().uuidString.prefix(8))")
        let cluster = DevCluster(options: .init(
            binDirectory: DevCluster.defaultBinDirectory(), dataDirectory: data, gatewayPort: DevCluster.freePort(),
            environment: ["CHAT_LOG_LEVEL": "warning", "CHAT_KAFKA_FETCH_WAIT_MS": String(fetchWaitMs), "CHAT_KAFKA_LINGER_MS": String(lingerMs),
                          // Each bench visitor sends far faster than a person; the gateway's
                          // per-sender limit would refuse most of it.
                          "GATEWAY_MESSAGES_PER_MINUTE": "100000", "GATEWAY_MESSAGE_BURST": "100000",
                          "PRESENCE_AGENTS": TestAccounts.standard], brokerArguments: ["--extra-topic", "\(Self.floorTopic):12"]))
        print("starting the system (binaries from \(cluster.options.binDirectory.path))")
        try await cluster.startAll()
        defer { try? FileManager.default.removeItem(at: data) }
        do {
            let floor = try await measureFloor(bootstrap: cluster.bootstrap ?? "")
            let endToEnd = try await measureEndToEnd(client: ChatClient(baseURL: cluster.gatewayURL))
            await cluster.stopAll()
            report(floor: floor, endToEnd: endToEnd)
        } catch {
            await cluster.stopAll()
            throw error
        }
    }

    // MARK: Routing

    func runRouting() async throws {
        let decisions = measureDecisions()
        print(String(format: "router state machine: %.0f chats/s, %.0f commands/s (one instance, in process, %d chats each started and automatically assigned, closed, wrap-up finished)",
                     decisions.perSecond, decisions.perSecond * 3, decisions.chats))
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("livechat-bench-\(UUID().uuidString.prefix(8))")
        let cluster = DevCluster(options: .init(
            binDirectory: DevCluster.defaultBinDirectory(), dataDirectory: data, gatewayPort: DevCluster.freePort(),
            environment: ["CHAT_LOG_LEVEL": "warning", "CHAT_KAFKA_FETCH_WAIT_MS": String(fetchWaitMs), "CHAT_KAFKA_LINGER_MS": String(lingerMs),
                          "ROUTER_ASSIGNMENT": "automatic", "ROUTER_MAX_CHATS_PER_AGENT": "100",
                          "ROUTER_OFFER_TIMEOUT_SECONDS": offers ? "30" : "0",
                          "PRESENCE_DEPARTMENTS": Self.benchDepartments.map { "\($0):Bench \($0)" }.joined(separator: ";"),
                          "PRESENCE_AGENTS": Self.benchDepartments.map { TestAccounts.entry("agent-\($0)", name: "Agent \($0)", departments: [$0]) }.joined(separator: ";")]))
        try await cluster.startAll()
        defer { try? FileManager.default.removeItem(at: data) }
        do {
            for instance in stride(from: 2, through: routers, by: 1) { try cluster.startReplica(.router, instance: instance) }
            try await waitForRouters(cluster)
            let client = ChatClient(baseURL: cluster.gatewayURL)
            var sockets: [String: ChatSocket] = [:]
            for department in Self.benchDepartments { sockets[department] = try await connectAgent("agent-\(department)", department: department, client: client) }
            let latencies = try await measureAssignment(client: client, sockets: sockets)
            let burst = try await measureBurst(client: client, sockets: sockets)
            await cluster.stopAll()
            let sorted = latencies.sorted()
            func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)] }
            let what = offers ? "offer" : "assignment"
            print(String(format: "request → %@ with %d router(s): p50 %.2f ms, p99 %.2f ms (%d chats at %d/s; POST /chats until the agent's socket shows the %@)",
                         what, routers, percentile(0.5), percentile(0.99), latencies.count, rate, what))
            print(String(format: "%@s through the system with %d router(s): %.0f per second (%d chats requested at once, until every agent socket showed them)",
                         what, routers, burst.perSecond, burst.chats))
        } catch {
            await cluster.stopAll()
            throw error
        }
    }

    /// Lets the consumer group settle after replicas joined (their logs run at warning
    /// level here, so there is no "partitions assigned" line to wait for).
    func waitForRouters(_ cluster: DevCluster) async throws {
        guard routers > 1 else { return }
        try await Task.sleep(for: .seconds(10))
    }

    /// Pure decision throughput: 20 agents in 4 departments, chats started, auto-assigned,
    /// closed and their wrap-up finished, in a loop.
    func measureDecisions() -> (perSecond: Double, chats: Int) {
        var state = RouterState(openDepartments: ["d0", "d1", "d2", "d3"], policy: RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 5))
        let now = Date()
        for index in 0..<20 {
            _ = state.handle(Envelope(producer: "bench", event: .agentPresenceChanged(AgentPresenceChanged(
                agentId: "a\(index)", displayName: "A\(index)", departmentIds: ["d\(index % 4)"], status: .online, available: true))),
                producer: "bench", now: now) { _ in false }
        }
        let chats = 20_000
        let clock = ContinuousClock()
        let started = clock.now
        for index in 0..<chats {
            let department = "d\(index % 4)"
            let visitor = Participant(role: .visitor, id: "v\(index)", displayName: "V")
            let actions = state.handle(Envelope(producer: "bench", event: .chatStartRequested(ChatStartRequested(chatId: "c\(index)", departmentId: department, visitor: visitor))),
                                       producer: "bench", now: now) { _ in false }
            guard let agent = state.openChats["c\(index)"]?.agent else { continue }
            _ = actions
            _ = state.handle(Envelope(producer: "bench", event: .chatCloseRequested(ChatCloseRequested(chatId: "c\(index)", departmentId: department, requestedBy: agent))),
                             producer: "bench", now: now) { _ in false }
            // The agent finishes the wrap-up, so the chat leaves the router's open chats.
            _ = state.handle(Envelope(producer: "bench", event: .chatOwnerActionRequested(ChatOwnerActionRequested(
                chatId: "c\(index)", departmentId: department, agent: agent, action: .finishWrapUp))), producer: "bench", now: now) { _ in false }
        }
        let elapsed = started.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (Double(chats) / seconds, chats)
    }

    /// An agent with one socket open, once their department shows open.
    func connectAgent(_ agentId: String, department: String, client: ChatClient) async throws -> ChatSocket {
        let agentToken = try await client.agent(agentId)
        let agentSocket = try await client.socket(token: agentToken)
        _ = try await agentSocket.next(type: "hello")
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let reply = try await client.request("GET", "/api/v1/departments")
            if reply.body["departments"]?.array.contains(where: { $0["departmentId"]?.string == department && $0["open"]?.bool == true }) == true { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return agentSocket
    }

    /// Paced chat requests over the departments, each timed until its agent's socket shows
    /// the assignment.
    func measureAssignment(client: ChatClient, sockets: [String: ChatSocket]) async throws -> [Double] {
        let departments = Self.benchDepartments
        // Warm up: the first requests pay for metadata lookups and the first fetches.
        for department in departments {
            let visitor = try await client.visitor(named: "Warm-up \(department)")
            _ = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": department])
            _ = try await sockets[department]!.next(timeout: .seconds(30)) { [change = decisionChange] in $0["change"]?.string == change && $0["chat"]?["visitor"]?["id"]?.string == visitor.id }
        }
        let total = min(rate * seconds, 90)
        var visitors: [(token: String, id: String)] = []
        for index in 0..<total { visitors.append(try await client.visitor(named: "Bench \(index)")) }
        print("request → \(offers ? "offer" : "assignment"): \(total) chats at \(rate)/s over \(departments.count) departments (agent maximum 100)")
        let sentAt = SendTimes()
        let change = decisionChange
        let receivers = departments.enumerated().map { offset, department in
            let expected = (0..<total).filter { $0 % departments.count == offset }.count
            let socket = sockets[department]!
            return Task { () throws -> [Double] in
                var latencies: [Double] = []
                while latencies.count < expected {
                    let (frame, arrivedAt) = try await socket.nextTimed(timeout: .seconds(30)) {
                        $0["type"]?.string == "chat.updated" && $0["change"]?.string == change
                    }
                    guard let visitorId = frame["chat"]?["visitor"]?["id"]?.string, let sent = sentAt.take(visitorId) else { continue }
                    let elapsed = arrivedAt - sent
                    latencies.append(Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15)
                }
                return latencies
            }
        }
        var requests: [Task<Void, Never>] = []
        try await paced(total) { index in
            let visitor = visitors[index]
            sentAt.put(visitor.id, .now)
            requests.append(Task {
                _ = try? await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": departments[index % departments.count]])
            })
        }
        for request in requests { await request.value }
        var latencies: [Double] = []
        for receiver in receivers { latencies += try await receiver.value }
        return latencies
    }

    /// Many chat requests at once: assignments per second through the whole system.
    func measureBurst(client: ChatClient, sockets: [String: ChatSocket]) async throws -> (perSecond: Double, chats: Int) {
        let departments = Self.benchDepartments
        let change = decisionChange
        let total = 200
        var visitors: [(token: String, id: String)] = []
        for index in 0..<total { visitors.append(try await client.visitor(named: "Burst \(index)")) }
        let started = ContinuousClock.now
        let receivers = departments.enumerated().map { offset, department in
            let expected = (0..<total).filter { $0 % departments.count == offset }.count
            let socket = sockets[department]!
            return Task { () throws -> ContinuousClock.Instant in
                var seen = 0
                var last = ContinuousClock.now
                while seen < expected {
                    let (frame, arrivedAt) = try await socket.nextTimed(timeout: .seconds(60)) {
                        $0["type"]?.string == "chat.updated" && $0["change"]?.string == change
                    }
                    if frame["chat"]?["visitor"]?["displayName"]?.string?.hasPrefix("Burst") == true { seen += 1; last = arrivedAt }
                }
                return last
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for (index, visitor) in visitors.enumerated() {
                group.addTask {
                    _ = try? await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": departments[index % departments.count]])
                }
            }
        }
        var finished = started
        for receiver in receivers { finished = max(finished, try await receiver.value) }
        let elapsed = finished - started
        return (Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18), total)
    }

    // MARK: Broker floor

    func measureFloor(bootstrap: String) async throws -> [Double] {
        let logger = Logger(label: "bench")
        var producerConfiguration = KafkaProducerConfiguration(client: .init(bootstrapServers: bootstrap, clientID: "bench-producer"))
        producerConfiguration.lingerMilliseconds = lingerMs
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var consumerConfiguration = KafkaConsumerConfiguration(client: .init(bootstrapServers: bootstrap, clientID: "bench-consumer"), groupID: "bench")
        consumerConfiguration.fetchWaitMaxMilliseconds = fetchWaitMs
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration,
            subscription: .allPartitions(topics: [Self.floorTopic], startOffsets: { partitions in
                Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaStartOffset.end) })
            }),
            logger: logger)
        let clock = ContinuousClock()
        let origin = clock.now
        let total = rate * seconds
        let receiver = Task { () throws -> [Double] in
            var latencies: [Double] = []
            let deadline = clock.now + .seconds(seconds + 15)
            while latencies.count < total, clock.now < deadline {
                for record in try await consumer.poll(maxRecords: 1_000, timeout: .milliseconds(50)) {
                    let sentNanoseconds = record.value.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
                    guard sentNanoseconds >= 0 else { continue } // warm-up record
                    let now = origin.duration(to: clock.now)
                    latencies.append(Double(now.components.seconds * 1_000_000_000 + now.components.attoseconds / 1_000_000_000 - sentNanoseconds) / 1_000_000)
                }
            }
            return latencies
        }
        // Warm up: the idempotent producer's id, metadata and every partition's first fetch.
        for index in 0..<97 {
            var marker: Int64 = -1
            _ = try producer.enqueue(KafkaOutgoingRecord(topic: Self.floorTopic, key: "chat-\(index)", value: withUnsafeBytes(of: &marker) { Array($0) }))
        }
        try await Task.sleep(for: .seconds(2))
        print("broker floor: \(total) records at \(rate)/s over 12 partitions")
        try await paced(total) { index in
            let elapsed = origin.duration(to: clock.now)
            var nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            let value = withUnsafeBytes(of: &nanoseconds) { Array($0) }
            _ = try producer.enqueue(KafkaOutgoingRecord(topic: Self.floorTopic, key: "chat-\(index % 97)", value: value))
        }
        let latencies = try await receiver.value
        await consumer.close()
        await producer.shutdown()
        guard latencies.count == total else { throw ClientError("floor: received \(latencies.count) of \(total)") }
        return latencies
    }

    // MARK: Through the system

    struct Conversation {
        var chatId: String
        var visitor: ChatSocket
        var agent: ChatSocket
    }

    func measureEndToEnd(client: ChatClient) async throws -> [Double] {
        let agentToken = try await client.agent("alice")
        let agentSocket = try await connectAgent("alice", department: "support", client: client)
        var conversations: [Conversation] = []
        for index in 0..<chats {
            let visitor = try await client.visitor(named: "Bench \(index)")
            let start = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            guard let chatId = start.body["chat"]?["chatId"]?.string else { throw ClientError("start failed: \(start.text)") }
            let take = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agentToken)
            guard take.status == 200 else { throw ClientError("take failed: \(take.text)") }
            let socket = try await client.socket(token: visitor.token)
            _ = try await socket.next(type: "hello")
            conversations.append(Conversation(chatId: chatId, visitor: socket, agent: agentSocket))
        }
        // Warm up every conversation once, end to end.
        for (index, conversation) in conversations.enumerated() {
            await conversation.visitor.send(["type": "message.send", "chatId": conversation.chatId, "clientMessageId": "w-\(index)", "text": "warm-up"])
            _ = try await agentSocket.next(timeout: .seconds(10)) { $0["message"]?["messageId"]?.string == "w-\(index)" }
        }
        let total = rate * seconds
        print("end to end: \(total) visitor messages at \(rate)/s over \(chats) chats (WebSocket in, gateway → Kafka → gateway → WebSocket out)")
        let sentAt = SendTimes()
        let receiver = Task { () throws -> [Double] in
            var latencies: [Double] = []
            while latencies.count < total {
                let (frame, arrivedAt) = try await agentSocket.nextTimed(timeout: .seconds(30)) { $0["type"]?.string == "message" }
                guard let id = frame["message"]?["messageId"]?.string, let sent = sentAt.take(id) else { continue }
                latencies.append(Double((arrivedAt - sent).components.attoseconds) / 1e15 + Double((arrivedAt - sent).components.seconds) * 1_000)
            }
            return latencies
        }
        try await paced(total) { index in
            let conversation = conversations[index % conversations.count]
            let id = "b-\(index)"
            sentAt.put(id, .now)
            Task { await conversation.visitor.send(["type": "message.send", "chatId": conversation.chatId, "clientMessageId": id, "text": "benchmark message \(index)"]) }
        }
        let latencies = try await receiver.value
        for conversation in conversations { await conversation.visitor.close() }
        await agentSocket.close()
        return latencies
    }

    /// Calls `body` `total` times at `rate` per second, on schedule (no coordinated omission:
    /// a late tick is not skipped).
    func paced(_ total: Int, _ body: (Int) throws -> Void) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.nanoseconds(1_000_000_000 / rate)
        for index in 0..<total {
            let due = start + interval * index
            if clock.now < due { try await clock.sleep(until: due) }
            try body(index)
        }
    }

    func report(floor: [Double], endToEnd: [Double]) {
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }
        let format = { (value: Double) in String(format: "%.2f ms", value) }
        let floorP50 = percentile(floor, 0.50), floorP99 = percentile(floor, 0.99)
        let p50 = percentile(endToEnd, 0.50), p99 = percentile(endToEnd, 0.99)
        print("""

        rate \(rate) msg/s, \(seconds) s per phase, \(chats) chats, fetch.wait.max.ms \(fetchWaitMs), linger.ms \(lingerMs)
                              p50        p99
        broker floor     \(format(floorP50).padding(toLength: 10, withPad: " ", startingAt: 0)) \(format(floorP99))
        visitor → agent  \(format(p50).padding(toLength: 10, withPad: " ", startingAt: 0)) \(format(p99))
        ratio            \(String(format: "%.2f×", p50 / floorP50).padding(toLength: 10, withPad: " ", startingAt: 0)) \(String(format: "%.2f×", p99 / floorP99))
        """)
    }
}

/// Send instants by client message id, shared by the pacing loop and the receiver.
final class SendTimes: @unchecked Sendable {
    // Guarded by `lock`; the two tasks touch it only through put/take.
    private let lock = NSLock()
    private var times: [String: ContinuousClock.Instant] = [:]

    func put(_ id: String, _ instant: ContinuousClock.Instant) { lock.withLock { times[id] = instant } }
    func take(_ id: String) -> ContinuousClock.Instant? { lock.withLock { times.removeValue(forKey: id) } }
}
