import ChatDevKit
import Foundation
import Testing

/// Bugs peers' users keep filing about availability and the chat button.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct PresenceAvailabilityTests {
    @Test func aSecondTabDoesNotFlipAnUnavailableAgentToAvailable() async throws {
        try await RunningSystem.with { system in
            let alice = try await system.connectAgent("alice")
            await alice.socket.send(["type": "availability.set", "available": false])
            try await system.waitForDepartment("support", open: false)

            // A second tab (or device) of the same agent connects.
            let secondTab = try await system.client.socket(token: alice.token)
            _ = try await secondTab.next(type: "hello")
            try await Task.sleep(for: .seconds(1))
            let departments = try await system.client.request("GET", "/api/v1/departments")
            let support = departments.body["departments"]?.array.first { $0["departmentId"]?.string == "support" }
            #expect(support?["open"]?.bool == false, "the second tab left the chosen availability alone")

            // Choosing available again opens the department for everyone.
            await secondTab.send(["type": "availability.set", "available": true])
            try await system.waitForDepartment("support", open: true)
        }
    }

    @Test func theButtonClosesWhenTheLastAgentLeavesAndChatsCannotStart() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_GRACE_SECONDS": "1"]) { system in
            let alice = try await system.connectAgent("alice")
            let watcher = try await system.client.visitor(named: "Watcher")
            let widget = try await system.client.socket(token: watcher.token)
            _ = try await widget.next(type: "hello")

            // A reload within the grace period keeps the department open.
            await alice.socket.abort()
            let reloaded = try await system.client.socket(token: alice.token)
            _ = try await reloaded.next(type: "hello")
            try await Task.sleep(for: .seconds(2))
            try await system.waitForDepartment("support", open: true)

            // The last agent leaves: after the grace period the widget is told, and a start
            // request is refused.
            await reloaded.close()
            let closed = try await widget.next(timeout: .seconds(10)) {
                $0["type"]?.string == "department.updated" && $0["department"]?["departmentId"]?.string == "support" && $0["department"]?["open"]?.bool == false
            }
            #expect(closed["department"]?["availableAgents"]?.int == 0)
            let refused = try await system.client.request("POST", "/api/v1/chats", token: watcher.token, json: ["departmentId": "support"])
            #expect(refused.status == 409)
            #expect(refused.body["error"]?["code"]?.string == "department_closed")
        }
    }
}

/// C10: an agent who loses their connection past the grace period gets their chats
/// returned to the queue, and another agent can take them.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OfflineAgentRequeueTests {
    @Test func chatsOfAnAgentWhoWentOfflineReturnToTheQueue() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_GRACE_SECONDS": "1"]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let bob = try await system.connectAgent("bob")
            let visitor = try await client.visitor(named: "Waiting")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token).status == 200)
            let visitorSocket = try await client.socket(token: visitor.token)
            _ = try await visitorSocket.next(type: "hello")

            await alice.socket.abort() // network gone, no reconnect
            let back = try await visitorSocket.next(timeout: .seconds(15)) {
                $0["type"]?.string == "chat.updated" && $0["chat"]?["status"]?.string == "queued"
            }
            #expect(back["chat"]?["agent"] == nil)
            _ = try await bob.socket.next(timeout: .seconds(5)) {
                $0["type"]?.string == "chat.updated" && $0["chat"]?["chatId"]?.string == chatId && $0["chat"]?["status"]?.string == "queued"
            }
            let queue = try await client.request("GET", "/api/v1/queue", token: bob.token)
            #expect(queue.body["chats"]?.array.map { $0["chatId"]?.string } == [chatId])
            let take = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: bob.token)
            #expect(take.status == 200)
            #expect(take.body["chat"]?["agent"]?["id"]?.string == "bob")
        }
    }
}

/// Automatic assignment through the real services: nothing waits while an agent has room.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct AutomaticAssignmentEndToEndTests {
    @Test func queuedChatsReachAgentsAfterAvailabilityTogglesAndFreedCapacity() async throws {
        try await RunningSystem.with(environment: ["ROUTER_ASSIGNMENT": "automatic", "ROUTER_MAX_CHATS_PER_AGENT": "1"]) { system in
            let client = system.client
            let bob = try await system.connectAgent("bob")
            func chat(_ chatId: String, _ token: String) async throws -> JSON? {
                try await client.request("GET", "/api/v1/chats/\(chatId)", token: token).body["chat"]
            }
            func newChat(_ name: String) async throws -> (id: String, token: String) {
                let visitor = try await client.visitor(named: name)
                return (try await system.startChat(visitorToken: visitor.token), visitor.token)
            }

            let first = try await newChat("First")
            try await eventually("first chat assigned to bob") { try await chat(first.id, first.token)?["agent"]?["id"]?.string == "bob" }
            let second = try await newChat("Second")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await chat(second.id, second.token)?["status"]?.string == "queued", "bob is at his maximum")

            // Alice logs in: the waiting chat reaches her at once.
            let alice = try await system.connectAgent("alice")
            try await eventually("second chat assigned to alice") { try await chat(second.id, second.token)?["agent"]?["id"]?.string == "alice" }
            let pushed = try await alice.socket.next { $0["type"]?.string == "chat.updated" && $0["chat"]?["chatId"]?.string == second.id && $0["chat"]?["status"]?.string == "assigned" }
            #expect(pushed["chat"]?["agent"]?["id"]?.string == "alice")

            // She frees her capacity and toggles her availability a few times, ending available.
            #expect(try await client.request("POST", "/api/v1/chats/\(second.id)/close", token: alice.token).status == 200)
            for available in [false, true, false, true] {
                await alice.socket.send(["type": "availability.set", "available": available])
            }
            let third = try await newChat("Third")
            try await eventually("third chat assigned to alice, not stuck in the queue") {
                try await chat(third.id, third.token)?["agent"]?["id"]?.string == "alice"
            }

            // A fourth waits until bob closes his first chat.
            let fourth = try await newChat("Fourth")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await chat(fourth.id, fourth.token)?["status"]?.string == "queued")
            #expect(try await client.request("POST", "/api/v1/chats/\(first.id)/close", token: bob.token).status == 200)
            try await eventually("fourth chat assigned to bob") { try await chat(fourth.id, fourth.token)?["agent"]?["id"]?.string == "bob" }
        }
    }
}

/// Offers: an agent who does not accept in time loses the chat to the next one.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OfferEndToEndTests {
    @Test func anOfferNotAcceptedInTimeGoesToTheNextAgent() async throws {
        try await RunningSystem.with(environment: ["ROUTER_ASSIGNMENT": "automatic", "ROUTER_OFFER_TIMEOUT_SECONDS": "2"]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let bob = try await system.connectAgent("bob")
            let visitor = try await client.visitor(named: "Angebot")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            // Alice (first by id among equally loaded agents) gets the offer and ignores it.
            let offered = try await alice.socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "offered" }
            #expect(offered["chat"]?["offeredTo"]?["id"]?.string == "alice")
            #expect(offered["chat"]?["offerExpiresAt"]?.string != nil)
            let toBob = try await bob.socket.next(timeout: .seconds(10)) {
                $0["type"]?.string == "chat.updated" && $0["change"]?.string == "offered" && $0["chat"]?["offeredTo"]?["id"]?.string == "bob"
            }
            #expect(toBob["chat"]?["chatId"]?.string == chatId)
            // Alice is too late now; bob accepts by taking it.
            let late = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token)
            #expect(late.status == 409)
            let accepted = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: bob.token)
            #expect(accepted.status == 200)
            #expect(accepted.body["chat"]?["agent"]?["id"]?.string == "bob")
        }
    }
}

/// B2: busy keeps current chats and takes no new ones; the button hides when all are busy.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct BusyEndToEndTests {
    @Test func aBusyAgentKeepsTheirChatButTheDepartmentCloses() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let bob = try await system.connectAgent("bob")
            let visitor = try await client.visitor(named: "Vor dem Stress")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: bob.token).status == 200)

            let busy = try await client.request("PUT", "/api/v1/agents/me/availability", token: bob.token, json: ["busy": true])
            #expect(busy.status == 202)
            try await system.waitForDepartment("support", open: false)
            let another = try await client.visitor(named: "Zu spät")
            let refused = try await client.request("POST", "/api/v1/chats", token: another.token, json: ["departmentId": "support"])
            #expect(refused.body["error"]?["code"]?.string == "department_closed")
            // The held chat goes on.
            let reply = try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: bob.token, json: ["clientMessageId": "still", "text": "Bin gleich da"])
            #expect(reply.status == 202)
            // The people view (B4) shows bob busy.
            let people = try await client.request("GET", "/api/v1/people", token: bob.token)
            #expect(people.body["people"]?.array.first { $0["agentId"]?.string == "bob" }?["state"]?.string == "busy")
            #expect(people.body["people"]?.array.first { $0["agentId"]?.string == "alice" }?["state"]?.string == "offline")
            // ... and says so live to the agents of bob's departments (his own sockets included).
            let pushed = try await bob.socket.next { $0["type"]?.string == "agent.updated" && $0["agent"]?["state"]?.string == "busy" }
            #expect(pushed["agent"]?["agentId"]?.string == "bob")
            #expect(try await client.request("GET", "/api/v1/people", token: visitor.token).status == 403)
            let empty = try await client.request("PUT", "/api/v1/agents/me/availability", token: bob.token, json: [:])
            #expect(empty.status == 400)
            await bob.socket.send(["type": "availability.set", "busy": false])
            try await system.waitForDepartment("support", open: true)
        }
    }
}
