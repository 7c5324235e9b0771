import ChatDevKit
import Foundation
import Testing

/// B5 through the gateway: an agent logs out of one queue and back in; the department
/// closes and opens with it, and the people view shows the queues.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct QueueLoginEndToEndTests {
    @Test func loggingOutOfAQueueClosesItsDepartmentUntilTheAgentLogsBackIn() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            try await system.waitForDepartment("sales", open: true)

            let out = try await client.request("PUT", "/api/v1/agents/me/queues", token: alice.token, json: ["departmentIds": ["sales"]])
            #expect(out.status == 202, "\(out.text)")
            try await system.waitForDepartment("support", open: false)
            try await system.waitForDepartment("sales", open: true)
            let visitor = try await client.visitor(named: "Draußen")
            let refused = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            #expect(refused.status == 409 && refused.body["error"]?["code"]?.string == "department_closed")
            try await eventually("the people view shows alice's queues") {
                let people = try await client.request("GET", "/api/v1/people", token: alice.token).body["people"]?.array ?? []
                return people.first { $0["agentId"]?.string == "alice" }?["queues"]?.array.compactMap(\.string) == ["sales"]
            }
            let overview = try await client.request("GET", "/api/v1/queues", token: alice.token).body["queues"]?.array ?? []
            #expect(overview.first { $0["departmentId"]?.string == "support" }?["agentsLoggedIn"]?.int == 0)

            // Only her own departments; bad input changes nothing.
            let stranger = try await client.request("PUT", "/api/v1/agents/me/queues", token: alice.token, json: ["departmentIds": ["billing"]])
            #expect(stranger.status == 422)
            let malformed = try await client.request("PUT", "/api/v1/agents/me/queues", token: alice.token, json: ["departments": "support"])
            #expect(malformed.status == 400)
            let asVisitor = try await client.request("PUT", "/api/v1/agents/me/queues", token: visitor.token, json: ["departmentIds": [String]()])
            #expect(asVisitor.status == 403)

            #expect(try await client.request("PUT", "/api/v1/agents/me/queues", token: alice.token, json: ["departmentIds": ["support", "sales"]]).status == 202)
            try await system.waitForDepartment("support", open: true)
            #expect(try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"]).status == 201)
        }
    }
}
