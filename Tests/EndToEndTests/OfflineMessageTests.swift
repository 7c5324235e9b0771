import ChatDevKit
import Foundation
import Testing

/// A2: while nobody is available, a visitor leaves a message (name, e-mail, text); it waits
/// in the department's queue as a chat the agents see and can take.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OfflineMessageTests {
    @Test func aMessageLeftWhileTheDepartmentIsClosedWaitsInItsQueue() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            try await eventually("the departments known and closed") {
                (try? await client.request("GET", "/api/v1/departments"))?.body["departments"]?.array.contains {
                    $0["departmentId"]?.string == "support" && $0["open"]?.bool == false
                } == true
            }
            let visitor = try await client.visitor(named: "Nachts")
            let closed = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            #expect(closed.status == 409 && closed.body["error"]?["code"]?.string == "department_closed")

            // Bad input is refused and queues nothing.
            for bad: [String: any Sendable] in [["email": "not-an-address", "text": "Hallo"], ["email": "eva@example.com", "text": "  "],
                                                 ["email": "eva@example.com", "text": String(repeating: "x", count: 5_000)]] {
                let refused = try await client.request("POST", "/api/v1/chats", token: visitor.token,
                                                       json: ["departmentId": "support", "offlineMessage": bad])
                #expect(refused.status == 422 || refused.status == 413, "\(bad): \(refused.text)")
            }

            let left = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: [
                "departmentId": "support", "displayName": "Eva Nacht",
                "offlineMessage": ["email": "eva@example.com", "text": "Bitte ruft mich morgen zurück. 📞"],
            ])
            #expect(left.status == 201, "\(left.text)")
            let chatId = try #require(left.body["chat"]?["chatId"]?.string)
            #expect(left.body["chat"]?["status"]?.string == "queued")
            #expect(left.body["chat"]?["contactEmail"]?.string == "eva@example.com")
            let messages = try await client.request("GET", "/api/v1/chats/\(chatId)/messages", token: visitor.token).body["messages"]?.array ?? []
            #expect(messages.compactMap { $0["text"]?.string } == ["Bitte ruft mich morgen zurück. 📞"])

            // An agent comes online: the message is in the queue, once, and can be taken.
            let alice = try await system.connectAgent("alice")
            let queue = try await client.request("GET", "/api/v1/queue", token: alice.token).body["chats"]?.array ?? []
            #expect(queue.count == 1)
            #expect(queue.first?["contactEmail"]?.string == "eva@example.com")
            #expect(queue.first?["visitor"]?["displayName"]?.string == "Eva Nacht")
            let take = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token)
            #expect(take.status == 200)
            let history = try await alice.socket.messages(1, of: chatId)
            #expect(history.first?["text"]?.string == "Bitte ruft mich morgen zurück. 📞")
        }
    }
}
