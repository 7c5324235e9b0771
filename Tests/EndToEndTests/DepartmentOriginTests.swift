import ChatDevKit
import Foundation
import Testing

/// The widget's token is its department: a department may be limited to its own sites.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DepartmentOriginTests {
    @Test func aDepartmentsChatsStartAndAreWrittenOnlyFromItsSites() async throws {
        try await RunningSystem.with(environment: ["GATEWAY_DEPARTMENT_ORIGINS": "support=https://shop.example,https://www.shop.example"]) { system in
            let client = system.client
            _ = try await system.connectAgent("alice", department: "sales")
            try await system.waitForDepartment("support", open: true)
            let visitor = try await client.visitor(named: "Vic")
            func start(_ department: String, from origin: String) async throws -> ChatClient.Reply {
                try await client.request("POST", "/api/v1/chats", token: visitor.token, body: jsonBody(["departmentId": department]), headers: ["Origin": origin])
            }
            let refused = try await start("support", from: "https://evil.example")
            #expect(refused.status == 403 && refused.body["error"]?["code"]?.string == "origin_not_allowed")
            let started = try await start("support", from: "https://www.shop.example")
            #expect(started.status == 201)
            let chatId = try #require(started.body["chat"]?["chatId"]?.string)
            #expect(try await start("sales", from: "https://evil.example").status == 201, "sales has no list of its own")
            func post(from origin: String, id: String) async throws -> Int {
                try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                         body: jsonBody(["clientMessageId": id, "text": "hi"]), headers: ["Origin": origin]).status
            }
            #expect(try await post(from: "https://evil.example", id: "m1") == 403)
            #expect(try await post(from: "https://shop.example", id: "m2") == 202)
        }
    }
}
