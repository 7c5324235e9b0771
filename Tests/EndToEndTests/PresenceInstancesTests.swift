import ChatDevKit
import ChatWire
import Foundation
import Testing

/// Two presence instances split the agents by partition; departments count every agent;
/// when one instance is killed -9 the other takes its agents over without flipping anyone's
/// state, and an agent who then leaves still goes offline and their chats go back.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PresenceInstancesTests {
    /// One agent per `presence.commands` partition, each in a department of their own.
    static let agents: [(id: String, partition: Int32)] = {
        var byPartition: [Int32: String] = [:]
        var index = 0
        while byPartition.count < Topic.presenceCommands.partitions {
            let id = "agent\(index)"
            let partition = Partitioning.partition(forKey: id, count: Int32(Topic.presenceCommands.partitions))
            if byPartition[partition] == nil { byPartition[partition] = id }
            index += 1
        }
        return byPartition.sorted { $0.key < $1.key }.map { ($0.value, $0.key) }
    }()

    @Test func twoPresenceInstancesShareTheAgentsAndHandOverOnACrash() async throws {
        let environment = [
            "PRESENCE_DEPARTMENTS": Self.agents.map { "dept-\($0.id):Department of \($0.id)" }.joined(separator: ";"),
            "PRESENCE_AGENTS": Self.agents.map { TestAccounts.entry($0.id, name: "Agent \($0.id)", departments: ["dept-\($0.id)"]) }.joined(separator: ";"),
            "PRESENCE_GRACE_SECONDS": "1",
            "PRESENCE_CONNECTION_TIMEOUT_SECONDS": "4",
            "GATEWAY_PRESENCE_HEARTBEAT_SECONDS": "1",
        ]
        try await RunningSystem.with(environment: environment) { system in
            let cluster = system.cluster
            let client = system.client
            try cluster.startReplica(.presence, instance: 2)
            let secondOwns = try await eventuallyValue(timeout: .seconds(30), "the second presence instance owns partitions") { () -> Set<Int32>? in
                let owned = assignedPartitions(in: (try? String(contentsOf: cluster.logsDirectory.appendingPathComponent("presence-2.log"), encoding: .utf8)) ?? "")
                return owned.isEmpty ? nil : owned
            }
            #expect(secondOwns.count < Topic.presenceCommands.partitions, "both instances have a share")
            var agents: [String: (token: String, socket: ChatSocket)] = [:]
            for agent in Self.agents {
                agents[agent.id] = try await system.connectAgent(agent.id, department: "dept-\(agent.id)")
            }
            // Every department opened, whichever instance owns its agent and publishes it.
            for agent in Self.agents { try await system.waitForDepartment("dept-\(agent.id)", open: true) }

            // An agent of the second instance makes themselves unavailable; their department closes.
            let moved = try #require(Self.agents.first { secondOwns.contains($0.partition) })
            let movedToken = agents[moved.id]!.token
            #expect(try await client.request("PUT", "/api/v1/agents/me/availability", token: movedToken, json: ["available": false]).status == 202)
            try await system.waitForDepartment("dept-\(moved.id)", open: false)

            // A visitor's chat with an agent of the second instance.
            let stays = try #require(Self.agents.first { secondOwns.contains($0.partition) && $0.id != moved.id } ?? Self.agents.first { !secondOwns.contains($0.partition) })
            let visitor = try await client.visitor(named: "Handover")
            let chatId = try await system.startChat(visitorToken: visitor.token, department: "dept-\(stays.id)")
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agents[stays.id]!.token).status == 200)

            // The second instance dies. After the session timeout the first takes its agents
            // over; their gateways repeat the open sockets, so nobody goes offline, and the
            // unavailable agent stays unavailable.
            cluster.stopReplica(.presence, instance: 2, signal: SIGKILL)
            try await eventually(timeout: .seconds(40), "the first instance owns every partition again") {
                assignedPartitions(in: system.log(.presence)).count == Topic.presenceCommands.partitions
            }
            try await Task.sleep(for: .seconds(6)) // beyond the connection timeout
            let people = try await client.request("GET", "/api/v1/people", token: agents[stays.id]!.token).body["people"]?.array ?? []
            let states = Dictionary(uniqueKeysWithValues: people.compactMap { person in person["agentId"]?.string.map { ($0, person["state"]?.string ?? "") } })
            #expect(states[stays.id] == "available", "\(states)")
            for agent in Self.agents where agent.id != moved.id { try await system.waitForDepartment("dept-\(agent.id)", open: true) }
            try await system.waitForDepartment("dept-\(moved.id)", open: false)
            // A second tab of the unavailable agent does not make them available.
            let secondTab = try await client.socket(token: movedToken)
            _ = try await secondTab.next(type: "hello")
            try await Task.sleep(for: .seconds(2))
            try await system.waitForDepartment("dept-\(moved.id)", open: false)
            await secondTab.close()

            // The agent holding the chat leaves: past the grace period they are offline and
            // the chat goes back to the queue.
            await agents[stays.id]!.socket.close()
            try await eventually(timeout: .seconds(20), "the chat back in the queue") {
                try await client.request("GET", "/api/v1/chats/\(chatId)", token: visitor.token).body["chat"]?["status"]?.string == "queued"
            }
        }
    }

    /// The partitions a log's latest "partitions assigned" line lists for `presence.commands`.
    func assignedPartitions(in log: String) -> Set<Int32> {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("partitions assigned") && $0.contains("presence.commands") }) else { return [] }
        var partitions = Set<Int32>()
        var rest = Substring(line)
        while let range = rest.range(of: "presence.commands[") {
            rest = rest[range.upperBound...]
            if let end = rest.firstIndex(of: "]"), let number = Int32(rest[..<end]) { partitions.insert(number) }
        }
        return partitions
    }
}
