import ChatDevKit
import Foundation
import Testing

/// The product's spine through real processes, HTTP, WebSockets and the broker.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct WalkingSkeletonTests {
    @Test func aVisitorAndAnAgentChatFromStartToArchivedTranscript() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            // Nobody is there yet: the department is closed and a chat cannot start.
            try await system.waitForDepartment("support", open: false)
            let visitor = try await client.visitor(named: "Grete Müller")
            let early = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            #expect(early.status == 409)
            #expect(early.body["error"]?["code"]?.string == "department_closed")

            // Two agents connect; presence opens the department.
            let alice = try await system.connectAgent("alice")
            let bob = try await system.connectAgent("bob")

            // A double click: two start requests at once open one chat.
            async let first = client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            async let second = client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            let starts = try await [first, second]
            #expect(starts.map(\.status).sorted() == [200, 201])
            let chatIds = Set(starts.compactMap { $0.body["chat"]?["chatId"]?.string })
            #expect(chatIds.count == 1, "both requests answer with the same chat")
            let chatId = try #require(chatIds.first)

            // Agents of the department see it waiting, live and in the queue listing.
            let queued = try await alice.socket.next { $0["type"]?.string == "chat.updated" && $0["chat"]?["chatId"]?.string == chatId }
            #expect(queued["chat"]?["status"]?.string == "queued")
            let queue = try await client.request("GET", "/api/v1/queue", token: alice.token)
            #expect(queue.body["chats"]?.array.map { $0["chatId"]?.string } == [chatId])

            // Both pick at the same instant: exactly one wins.
            async let aliceTake = client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token)
            async let bobTake = client.request("POST", "/api/v1/chats/\(chatId)/take", token: bob.token)
            let takes = try await [aliceTake, bobTake]
            #expect(takes.map(\.status).sorted() == [200, 409])
            let loser = try #require(takes.first { $0.status == 409 })
            #expect(loser.body["error"]?["code"]?.string == "already_taken")
            let winnerIndex = try #require(takes.firstIndex { $0.status == 200 })
            let (agent, other) = winnerIndex == 0 ? (alice, bob) : (bob, alice)
            let agentId = winnerIndex == 0 ? "alice" : "bob"
            #expect(takes[winnerIndex].body["chat"]?["agent"]?["id"]?.string == agentId)
            _ = other

            // The visitor's socket; messages both ways, live, exactly once and in order.
            let visitorSocket = try await client.socket(token: visitor.token)
            let hello = try await visitorSocket.next(type: "hello")
            #expect(hello["chats"]?.array.first?["chatId"]?.string == chatId)
            var sent: [String] = []
            for index in 0..<15 {
                let visitorText = "Hallo, Frage Nummer \(index) 😀"
                await visitorSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "v-\(index)", "text": visitorText])
                _ = try await visitorSocket.next { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "v-\(index)" }
                sent.append(visitorText)
                let agentText = "Antwort \(index)"
                await agent.socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "a-\(index)", "text": agentText])
                _ = try await agent.socket.next { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "a-\(index)" }
                sent.append(agentText)
            }
            // A resend of an accepted message (same client id) is stored once.
            await visitorSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "v-0", "text": sent[0]])
            _ = try await visitorSocket.next { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "v-0" }

            for socket in [visitorSocket, agent.socket] {
                let messages = try await socket.messages(sent.count, of: chatId)
                #expect(messages.map { $0["text"]?.string } == sent)
                #expect(messages.map { $0["seq"]?.int } == Array(1...sent.count))
                try await socket.expectNoMoreMessages(of: chatId)
            }

            // The agent ends the chat; the visitor is told.
            let closed = try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: agent.token)
            #expect(closed.status == 200)
            #expect(closed.body["chat"]?["status"]?.string == "closed")
            let update = try await visitorSocket.next { $0["type"]?.string == "chat.updated" && $0["chat"]?["status"]?.string == "closed" }
            #expect(update["chat"]?["chatId"]?.string == chatId)
            let afterClose = try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                                      json: ["clientMessageId": "late", "text": "still there?"])
            #expect(afterClose.status == 409)

            // The archiver holds the full transcript, fetched through the gateway.
            let transcript = try await eventuallyValue("the archived transcript") { () -> JSON? in
                let reply = try await client.request("GET", "/api/v1/chats/\(chatId)/transcript", token: visitor.token)
                guard reply.status == 200, reply.body["transcript"]?["closedAt"]?.string != nil else { return nil }
                return reply.body["transcript"]
            }
            #expect(transcript["messages"]?.array.map { $0["text"]?.string } == sent)
            #expect(transcript["agents"]?.array.map { $0["id"]?.string } == [agentId])
            #expect(transcript["visitor"]?["displayName"]?.string == "Grete Müller")

            // A stranger sees nothing of it.
            let stranger = try await client.visitor(named: "Mallory")
            let peek = try await client.request("GET", "/api/v1/chats/\(chatId)/transcript", token: stranger.token)
            #expect(peek.status == 404)
        }
    }
}

extension ChatSocket {
    /// Fails if another message of `chatId` arrives within `window`.
    func expectNoMoreMessages(of chatId: String, within window: Duration = .milliseconds(500)) async throws {
        do {
            let extra = try await next(timeout: window) { $0["type"]?.string == "message" && $0["message"]?["chatId"]?.string == chatId }
            Issue.record("unexpected extra message: \(extra)")
        } catch is ClientError {
            // Nothing more arrived: exactly once.
        }
    }
}
