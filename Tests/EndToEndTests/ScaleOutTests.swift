import ChatDevKit
import Foundation
import Testing

/// Two gateway instances behind one address space: the visitor talks to one, the agent to
/// the other, and the conversation flows as with one.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ScaleOutTests {
    @Test func twoGatewaysServeOneConversation() async throws {
        let secret = String(repeating: "k", count: 40)
        try await RunningSystem.with(environment: ["GATEWAY_TOKEN_SECRET": secret]) { system in
            let second = ChatClient(baseURL: try system.cluster.startAnotherGateway(instance: 2, port: DevCluster.freePort()))
            try await eventually("the second gateway knows the departments") {
                (try? await second.request("GET", "/api/v1/departments"))?.body["departments"]?.array.isEmpty == false
            }
            // The agent uses the first gateway, the visitor the second; tokens work on both.
            let agent = try await system.connectAgent("alice")
            let visitor = try await second.visitor(named: "Zweites Tor")
            let chatId = try await RunningSystem(cluster: system.cluster, client: second).startChat(visitorToken: visitor.token)
            let take = try await system.client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            #expect(take.status == 200, "\(take.text)")
            let visitorSocket = try await second.socket(token: visitor.token)
            _ = try await visitorSocket.next(type: "hello")
            // Typing crosses gateways too (through chat.signals), and is not echoed.
            await visitorSocket.send(["type": "typing", "chatId": chatId, "typing": true])
            let typing = try await agent.socket.next { $0["type"]?.string == "typing" }
            #expect(typing["chatId"]?.string == chatId && typing["typing"]?.bool == true)
            #expect(typing["sender"]?["role"]?.string == "visitor")
            await visitorSocket.send(["type": "typing", "chatId": "not-mine", "typing": true])
            let refused = try await visitorSocket.next { $0["type"]?.string == "error" }
            #expect(refused["code"]?.string == "chat_not_found")
            for index in 1...5 {
                await visitorSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "v\(index)", "text": "frage \(index)"])
                await agent.socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "a\(index)", "text": "antwort \(index)"])
            }
            let atAgent = try await agent.socket.messages(10, of: chatId)
            let atVisitor = try await visitorSocket.messages(10, of: chatId)
            #expect(atAgent.map { $0["messageId"]?.string } == atVisitor.map { $0["messageId"]?.string }, "both gateways number the messages alike")
            #expect(atAgent.map { $0["seq"]?.int } == Array(1...10))
            #expect(Set(atAgent.compactMap { $0["text"]?.string }).count == 10)
            // A request on one gateway, the answer read from the other.
            let closed = try await second.request("POST", "/api/v1/chats/\(chatId)/close", token: visitor.token)
            #expect(closed.status == 200)
            try await eventually("the first gateway sees the chat closed") {
                try await system.client.request("GET", "/api/v1/chats/\(chatId)", token: agent.token).body["chat"]?["status"]?.string == "closed"
            }
        }
    }
}

/// Two archivers split the conversations; every transcript is still found, because a chat's
/// questions are co-partitioned with its conversation.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ArchiverScaleOutTests {
    @Test func twoArchiversAnswerForEveryChat() async throws {
        try await RunningSystem.with { system in
            try system.cluster.startReplica(.archiver, instance: 2)
            let client = system.client
            let agent = try await system.connectAgent("alice")
            var chats: [(id: String, token: String)] = []
            for index in 0..<8 {
                let visitor = try await client.visitor(named: "Besucher \(index)")
                let chatId = try await system.startChat(visitorToken: visitor.token)
                #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                                 json: ["clientMessageId": "m", "text": "Nachricht \(index)"]).status == 202)
                chats.append((chatId, visitor.token))
            }
            // Give the second archiver time to join the group and take its share.
            try await Task.sleep(for: .seconds(4))
            for chat in chats {
                let transcript = try await eventuallyValue(timeout: .seconds(30), "transcript of \(chat.id)") { () -> JSON? in
                    let reply = try await client.request("GET", "/api/v1/chats/\(chat.id)/transcript", token: chat.token)
                    return reply.status == 200 && reply.body["transcript"]?["messages"]?.array.count == 1 ? reply.body["transcript"] : nil
                }
                #expect(transcript["chatId"]?.string == chat.id)
            }
            _ = agent
            let archiverLogs = system.log(.archiver) + ((try? String(contentsOf: system.cluster.logsDirectory.appendingPathComponent("archiver-2.log"), encoding: .utf8)) ?? "")
            #expect(archiverLogs.contains("partitions assigned"))
        }
    }
}
