import ChatDevKit
import Foundation
import Testing

/// Who may do what, endpoint by endpoint: a visitor reaches only their own conversation, an
/// agent only chats of their departments (or chats they hold), and forged tokens nothing.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct AuthorizationTests {
    @Test func everyChatEndpointAgainstEveryKindOfCaller() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let alice = try await system.connectAgent("alice", department: "sales") // sales + support
            let bob = try await system.connectAgent("bob")                            // support only
            let owner = try await client.visitor(named: "Owner")
            let stranger = try await client.visitor(named: "Stranger")
            let chatId = try await system.startChat(visitorToken: owner.token, department: "sales")
            let forged = owner.token.dropLast(2) + "xx"
            let otherSecret = "eyJjYWxsZXIiOnsicm9sZSI6ImFnZW50IiwiaWQiOiJhbGljZSIsImRpc3BsYXlOYW1lIjoiQSJ9LCJleHBpcmVzQXQiOjk5OTk5OTk5OTl9.c2lnbmF0dXJl"

            struct Case {
                var method: String
                var path: String
                var body: [String: any Sendable]?
            }
            let reads = [Case(method: "GET", path: "/api/v1/chats/\(chatId)"),
                         Case(method: "GET", path: "/api/v1/chats/\(chatId)/messages"),
                         Case(method: "GET", path: "/api/v1/chats/\(chatId)/transcript")]
            let agentActions = [Case(method: "POST", path: "/api/v1/chats/\(chatId)/take"),
                                Case(method: "POST", path: "/api/v1/chats/\(chatId)/park"),
                                Case(method: "POST", path: "/api/v1/chats/\(chatId)/return"),
                                Case(method: "POST", path: "/api/v1/chats/\(chatId)/transfer", body: ["toAgentId": "bob"]),
                                Case(method: "POST", path: "/api/v1/chats/\(chatId)/invite", body: ["agentId": "bob"]),
                                Case(method: "POST", path: "/api/v1/chats/\(chatId)/decline")]
            let writes = [Case(method: "POST", path: "/api/v1/chats/\(chatId)/messages", body: ["clientMessageId": "x", "text": "hi"]),
                          Case(method: "POST", path: "/api/v1/chats/\(chatId)/close")]

            func status(_ testCase: Case, _ token: String?) async throws -> Int {
                if let body = testCase.body {
                    return try await client.request(testCase.method, testCase.path, token: token, json: body).status
                }
                return try await client.request(testCase.method, testCase.path, token: token).status
            }

            // No token, a forged signature, a token signed with another key: 401 everywhere.
            for testCase in reads + agentActions + writes + [Case(method: "GET", path: "/api/v1/queue"), Case(method: "GET", path: "/api/v1/queues"),
                                                             Case(method: "PUT", path: "/api/v1/agents/me/availability", body: ["available": true]),
                                                             Case(method: "PUT", path: "/api/v1/agents/me/queues", body: ["departmentIds": ["sales"]]),
                                                             Case(method: "GET", path: "/api/v1/people"),
                                                             Case(method: "POST", path: "/api/v1/chats", body: ["departmentId": "sales"])] {
                for token in [nil, String(forged), otherSecret] {
                    #expect(try await status(testCase, token) == 401, "\(testCase.method) \(testCase.path) with \(token == nil ? "no" : "a bad") token")
                }
            }
            // Another visitor and an agent of another department see nothing of the chat.
            for testCase in reads + writes {
                #expect(try await status(testCase, stranger.token) == 404, "stranger: \(testCase.path)")
                #expect(try await status(testCase, bob.token) == 404, "agent of another department: \(testCase.path)")
            }
            for testCase in agentActions {
                #expect(try await status(testCase, bob.token) == 404, "agent of another department: \(testCase.path)")
                #expect(try await status(testCase, owner.token) == 403, "visitor: \(testCase.path)")
            }
            // Agent-only listings refuse visitors.
            #expect(try await client.request("GET", "/api/v1/queue", token: owner.token).status == 403)
            #expect(try await client.request("GET", "/api/v1/queues", token: owner.token).status == 403)
            #expect(try await client.request("PUT", "/api/v1/agents/me/availability", token: owner.token, json: ["available": true]).status == 403)
            #expect(try await client.request("PUT", "/api/v1/agents/me/queues", token: owner.token, json: ["departmentIds": ["sales"]]).status == 403)
            #expect(try await client.request("PUT", "/api/v1/agents/me/queues", token: bob.token, json: ["departmentIds": ["sales"]]).status == 422,
                    "an agent logs in only to the queues of their departments")
            // Visitors start chats; agents do not.
            #expect(try await client.request("POST", "/api/v1/chats", token: alice.token, json: ["departmentId": "sales"]).status == 403)
            // The owner and an agent of the department do see it.
            for testCase in reads.dropLast() {
                #expect(try await status(testCase, owner.token) == 200, "owner: \(testCase.path)")
                #expect(try await status(testCase, alice.token) == 200, "agent of the department: \(testCase.path)")
            }
            // An agent of the department may not act on a chat they do not hold.
            #expect(try await status(Case(method: "POST", path: "/api/v1/chats/\(chatId)/park"), alice.token) == 403)
            // Sockets: a visitor cannot resume someone else's chat.
            let snooper = try await client.socket(token: stranger.token, resume: [chatId: 0])
            _ = try await snooper.next(type: "hello")
            #expect(try await snooper.next(type: "error")["code"]?.string == "chat_not_found")
        }
    }
}
