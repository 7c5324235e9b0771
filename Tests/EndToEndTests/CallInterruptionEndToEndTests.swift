import ChatDevKit
import ChatKafka
import ChatWire
import Foundation
import Testing

/// C9 through the running system: a telephony system reports an agent's call on
/// `telephony.calls`; the agent's chat is parked for the call and resumed after it, and a
/// call routing request is answered on the same topic.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct CallInterruptionEndToEndTests {
    @Test func aPhoneCallParksTheAgentsChatAndItsEndResumesIt() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Anruferin")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token).status == 200)

            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: system.cluster.bootstrap ?? "", clientID: "telephony")),
                                             logger: .init(label: "telephony"))
            func send(_ topic: Topic, key: String, _ event: WireEvent) async throws {
                _ = try await producer.send(KafkaOutgoingRecord(topic: topic.name, key: Array(key.utf8),
                                                                value: WireCodec.encode(Envelope(producer: "telephony-test", event: event)), partition: nil))
            }
            func status() async throws -> String? {
                try await client.request("GET", "/api/v1/chats/\(chatId)", token: visitor.token).body["chat"]?["status"]?.string
            }

            // Who should take a call for support? alice has a chat; bob is not connected.
            try await send(.chatCommands, key: "support", .callRoutingRequested(CallRoutingRequested(callId: "call-7", departmentId: "support")))
            try await send(.telephonyCalls, key: "alice", .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-7")))
            try await eventually("the chat parked for the call") { try await status() == "parked" }
            let parked = try await alice.socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "parked" }
            #expect(parked["chat"]?["chatId"]?.string == chatId)

            try await send(.telephonyCalls, key: "alice", .agentCallEnded(AgentCallChanged(agentId: "alice", callId: "call-7")))
            try await eventually("the chat resumed after the call") { try await status() == "assigned" }

            // The routing answer, read back from the topic.
            let routed = try await readCallRouted(bootstrap: system.cluster.bootstrap ?? "", callId: "call-7")
            #expect(routed.agentId == "alice" && routed.rule == "busy_agent", "the only agent taking chats has one: \(routed)")
            await producer.shutdown()
        }
    }

    func readCallRouted(bootstrap: String, callId: String) async throws -> CallRouted {
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: .init(bootstrapServers: bootstrap, clientID: "telephony-reader"), groupID: "telephony-reader"),
                                         subscription: .allPartitions(topics: [Topic.telephonyCalls.name], startOffsets: { _ in [:] }), logger: .init(label: "telephony"))
        defer { Task { await consumer.close() } }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            for record in try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200)) {
                if let envelope = try? WireCodec.decode(record.value), case .callRouted(let routed) = envelope.event, routed.callId == callId { return routed }
            }
        }
        throw ClientError("no call.routed for \(callId)")
    }
}
