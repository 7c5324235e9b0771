import ChatDevKit
import ChatKafka
import ChatWire
import Foundation
import Testing

/// Three router instances share the queues under continuous load; one is killed -9 and a
/// fourth joins. Nothing is lost, no chat is assigned twice, no agent is ever above the
/// maximum, and every message arrives once, in order.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct RouterScaleOutTests {
    static let departments = (0..<6).map { "d\($0)" }
    /// Each agent serves two departments, which mostly live on different partitions.
    static let agents = (0..<6).map { (id: "agent\($0)", departments: [departments[$0], departments[($0 + 1) % 6]]) }
    static let maximum = 2

    @Test func threeRoutersUnderLoadWithOneKilledLoseNothingAndAssignEachChatOnce() async throws {
        let environment = [
            "ROUTER_ASSIGNMENT": "automatic",
            "ROUTER_MAX_CHATS_PER_AGENT": String(Self.maximum),
            "PRESENCE_DEPARTMENTS": Self.departments.map { "\($0):Department \($0)" }.joined(separator: ";"),
            "PRESENCE_AGENTS": Self.agents.map { TestAccounts.entry($0.id, name: "Agent \($0.id)", departments: $0.departments) }.joined(separator: ";"),
        ]
        try await RunningSystem.with(environment: environment) { system in
            let cluster = system.cluster
            let client = system.client
            try cluster.startReplica(.router, instance: 2)
            try cluster.startReplica(.router, instance: 3)
            var agentTokens: [String: String] = [:]
            var sockets: [ChatSocket] = []
            for agent in Self.agents {
                let connected = try await system.connectAgent(agent.id, department: agent.departments[0])
                agentTokens[agent.id] = connected.token
                sockets.append(connected.socket)
            }
            try await eventually(timeout: .seconds(30), "the three routers share the partitions") {
                (2...3).allSatisfy { self.log(cluster, "router-\($0)").contains("partitions assigned") }
            }

            // Visitors arrive steadily; each sends three messages once their chat exists.
            var chats: [(id: String, token: String)] = []
            let total = 36
            for index in 0..<total {
                let visitor = try await client.visitor(named: "Besucher \(index)")
                // While a killed router's partitions move (session timeout + rebalance), a start
                // may time out; the widget retries and gets the same chat.
                let chatId = try await eventuallyValue(timeout: .seconds(60), "chat \(index) started") { () -> String? in
                    try? await system.startChat(visitorToken: visitor.token, department: Self.departments[index % Self.departments.count])
                }
                for message in 1...3 {
                    let sent = try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                                        json: ["clientMessageId": "m\(message)", "text": "Nachricht \(message) von \(index)"])
                    #expect(sent.status == 202)
                }
                chats.append((chatId, visitor.token))
                if index == 10 { cluster.stopReplica(.router, instance: 2, signal: SIGKILL) }
                if index == 20 { try cluster.startReplica(.router, instance: 4) }
                try await closeAssignedChats(chats, client: client, agentTokens: agentTokens)
                try await Task.sleep(for: .milliseconds(60))
            }
            // Agents keep working until every chat has been served and closed.
            try await eventually(timeout: .seconds(120), "every chat is served and closed") {
                try await closeAssignedChats(chats, client: client, agentTokens: agentTokens)
                for chat in chats {
                    let reply = try await client.request("GET", "/api/v1/chats/\(chat.id)", token: chat.token)
                    if reply.body["chat"]?["status"]?.string != "closed" { return false }
                }
                return true
            }

            // Every message once, in order, numbered without gaps.
            for (index, chat) in chats.enumerated() {
                let messages = try await client.request("GET", "/api/v1/chats/\(chat.id)/messages", token: chat.token).body["messages"]?.array ?? []
                let visitorTexts = messages.filter { $0["sender"]?["role"]?.string == "visitor" }.compactMap { $0["text"]?.string }
                #expect(visitorTexts == (1...3).map { "Nachricht \($0) von \(index)" })
                #expect(messages.compactMap { $0["seq"]?.int } == Array(1...messages.count))
            }

            // The decisions as the log holds them.
            let events = try await readConversationEvents(bootstrap: cluster.bootstrap ?? "")
            var assignedAgents: [String: Set<String>] = [:]
            var assignmentEvents: [String: Set<String>] = [:]
            for envelope in events {
                if case .chatAssigned(let assigned) = envelope.event {
                    assignedAgents[assigned.chatId, default: []].insert(assigned.agent.id)
                    assignmentEvents[assigned.chatId, default: []].insert(envelope.id)
                }
            }
            for chat in chats {
                #expect(assignmentEvents[chat.id]?.count == 1, "chat \(chat.id) assigned once: \(assignedAgents[chat.id] ?? [])")
            }
            let peak = peakConcurrentChats(events)
            for agent in Self.agents {
                #expect(peak[agent.id, default: 0] <= Self.maximum, "\(agent.id) held \(peak[agent.id, default: 0]) chats at once")
            }
            #expect(peak.values.contains(Self.maximum), "the load reached the maximum, so the limit was tested")
            let routerLogs = (2...4).map { log(cluster, "router-\($0)") }.joined() + system.log(.router)
            #expect(routerLogs.contains("partition restored from the changelog"), "a killed router's partitions moved with their state")
            _ = sockets
        }
    }

    func log(_ cluster: DevCluster, _ name: String) -> String {
        (try? String(contentsOf: cluster.logsDirectory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }

    /// Plays the agents: a chat assigned to one of them gets an answer and is closed after a
    /// while (so agents do reach their maximum).
    func closeAssignedChats(_ chats: [(id: String, token: String)], client: ChatClient, agentTokens: [String: String],
                            handlingTime: Duration = .milliseconds(1_500)) async throws {
        for chat in chats {
            let view = try await client.request("GET", "/api/v1/chats/\(chat.id)", token: chat.token).body["chat"]
            guard view?["status"]?.string == "assigned", let agentId = view?["agent"]?["id"]?.string, let token = agentTokens[agentId],
                  let since = view?["activeSince"]?.string.flatMap(WireTime.parse), Date().timeIntervalSince(since) > Double(handlingTime.components.seconds) + Double(handlingTime.components.attoseconds) / 1e18 else { continue }
            _ = try await client.request("POST", "/api/v1/chats/\(chat.id)/messages", token: token, json: ["clientMessageId": "answer", "text": "Gern geschehen"])
            _ = try await client.request("POST", "/api/v1/chats/\(chat.id)/close", token: token)
        }
    }

    /// Every event on chat.conversations, once per event id, in each partition's order.
    func readConversationEvents(bootstrap: String) async throws -> [Envelope] {
        let reader = KafkaConsumerConfiguration(client: KafkaClientConfiguration(bootstrapServers: bootstrap, clientID: "scale-out-test"), groupID: "scale-out-test")
        let consumer = try KafkaConsumer(configuration: reader, subscription: .allPartitions(topics: [Topic.chatConversations.name], startOffsets: { _ in [:] }),
                                         logger: .init(label: "test"))
        var quietSince = ContinuousClock.now
        var byPartition: [Int32: [KafkaConsumedRecord]] = [:]
        while ContinuousClock.now - quietSince < .seconds(2) {
            let batch = try await consumer.poll(maxRecords: 1_000, timeout: .milliseconds(200))
            if !batch.isEmpty { quietSince = .now }
            for record in batch { byPartition[record.partition, default: []].append(record) }
        }
        await consumer.close()
        var seen = Set<String>()
        var events: [Envelope] = []
        for partition in byPartition.keys.sorted() {
            for record in byPartition[partition]! {
                guard let envelope = try? WireCodec.decode(record.value), seen.insert(envelope.id).inserted else { continue }
                events.append(envelope)
            }
        }
        return events
    }

    /// The most chats each agent held at once, replaying assignments and their ends in time order.
    func peakConcurrentChats(_ events: [Envelope]) -> [String: Int] {
        var changes: [(at: Date, ends: Bool, chat: String, agent: String)] = []
        var holder: [String: String] = [:]
        for envelope in events {
            switch envelope.event {
            case .chatAssigned(let assigned):
                changes.append((envelope.occurredAt, false, assigned.chatId, assigned.agent.id))
                holder[assigned.chatId] = assigned.agent.id
            case .chatClosed(let closed):
                if let agent = holder[closed.chatId] { changes.append((envelope.occurredAt, true, closed.chatId, agent)) }
            case .chatRequeued(let requeued):
                changes.append((envelope.occurredAt, true, requeued.chatId, requeued.previousAgent.id))
            default:
                break
            }
        }
        // At equal times an end comes first: a freed place is what allows the next assignment.
        changes.sort { ($0.at, $0.ends ? 0 : 1) < ($1.at, $1.ends ? 0 : 1) }
        var current: [String: Int] = [:]
        var peak: [String: Int] = [:]
        for change in changes {
            current[change.agent, default: 0] += change.ends ? -1 : 1
            peak[change.agent] = max(peak[change.agent, default: 0], current[change.agent, default: 0])
        }
        return peak
    }
}

