import ChatDevKit
import Foundation
import Testing

/// A10: closing the page ends the chat for the agent after a grace period; a reload within
/// it resumes the same chat.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct VisitorLeftTests {
    @Test func aClosedPageEndsTheChatAfterTheGracePeriodAndAReloadDoesNot() async throws {
        try await RunningSystem.with(environment: ["ROUTER_VISITOR_GONE_SECONDS": "3"]) { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            // A visitor who reloads: the socket closes and a new one opens at once.
            let stayer = try await client.visitor(named: "Stay")
            let kept = try await system.startChat(visitorToken: stayer.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(kept)/take", token: agent.token).status == 200)
            let first = try await client.socket(token: stayer.token)
            _ = try await first.next(type: "hello")
            await first.close()
            let reloaded = try await client.socket(token: stayer.token, resume: [kept: 0])
            _ = try await reloaded.next(type: "hello")
            // A visitor who closes the page.
            let leaver = try await client.visitor(named: "Leave")
            let left = try await system.startChat(visitorToken: leaver.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(left)/take", token: agent.token).status == 200)
            let page = try await client.socket(token: leaver.token)
            _ = try await page.next(type: "hello")
            await page.close()
            let closed = try await agent.socket.next(timeout: .seconds(15)) {
                $0["type"]?.string == "chat.updated" && $0["chat"]?["chatId"]?.string == left && $0["chat"]?["status"]?.string == "closed"
            }
            #expect(closed["chat"]?["closedBy"]?["role"]?.string == "visitor")
            // Well past the grace period, the reloaded visitor's chat is still theirs.
            try await Task.sleep(for: .seconds(2))
            #expect(try await client.request("GET", "/api/v1/chats/\(kept)", token: stayer.token).body["chat"]?["status"]?.string == "assigned")
        }
    }
}
