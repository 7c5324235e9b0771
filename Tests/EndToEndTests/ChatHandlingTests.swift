import ChatDevKit
import Foundation
import Testing

/// Return to queue, park and unpark, transfers, and what waiting visitors are told.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ChatHandlingTests {
    @Test func agentsReturnParkAndTransferChatsAndVisitorsAreTold() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let bob = try await system.connectAgent("bob")

            // Three visitors wait: each knows their place.
            var visitors: [(token: String, chatId: String, socket: ChatSocket)] = []
            for name in ["Erste", "Zweite", "Dritte"] {
                let visitor = try await client.visitor(named: name)
                let chatId = try await system.startChat(visitorToken: visitor.token)
                let socket = try await client.socket(token: visitor.token)
                _ = try await socket.next(type: "hello")
                visitors.append((visitor.token, chatId, socket))
            }
            let third = try await client.request("GET", "/api/v1/chats/\(visitors[2].chatId)", token: visitors[2].token)
            #expect(third.body["chat"]?["position"]?.int == 3)
            // The queue overview (C11) counts them.
            let overview = try await client.request("GET", "/api/v1/queues", token: alice.token)
            let support = overview.body["queues"]?.array.first { $0["departmentId"]?.string == "support" }
            #expect(support?["waiting"]?.int == 3)
            #expect(support?["ongoing"]?.int == 0)
            #expect(support?["agentsOnline"]?.int == 2)
            #expect((support?["longestWaitSeconds"].flatMap { if case .number(let value) = $0 { value } else { nil } } ?? -1) >= 0)

            // Alice takes the first: the others move up and are told.
            _ = try await client.request("POST", "/api/v1/chats/\(visitors[0].chatId)/take", token: alice.token)
            let moved = try await visitors[2].socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "position" }
            #expect(moved["chat"]?["position"]?.int == 2)
            #expect(moved["chat"]?["estimatedWaitSeconds"] != nil, "an estimate from the first assignment")
            let live = try await bob.socket.next {
                $0["type"]?.string == "queue.overview" && $0["queue"]?["departmentId"]?.string == "support" && $0["queue"]?["ongoing"]?.int == 1
            }
            #expect(live["queue"]?["waiting"]?.int == 2, "supervisors see the counters change live")
            let first = visitors[0]
            let joined = try await first.socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "assigned" }
            #expect(joined["chat"]?["agent"]?["displayName"]?.string == "Alice Adams")

            // Park and unpark: still hers, timer kept.
            let parked = try await client.request("POST", "/api/v1/chats/\(first.chatId)/park", token: alice.token)
            #expect(parked.status == 200)
            #expect(parked.body["chat"]?["status"]?.string == "parked")
            #expect(parked.body["chat"]?["activeSince"] == nil)
            let again = try await client.request("POST", "/api/v1/chats/\(first.chatId)/park", token: alice.token)
            #expect(again.status == 409)
            #expect(again.body["error"]?["code"]?.string == "invalid_transition")
            let notHers = try await client.request("POST", "/api/v1/chats/\(first.chatId)/unpark", token: bob.token)
            #expect(notHers.status == 403)
            let unparked = try await client.request("POST", "/api/v1/chats/\(first.chatId)/unpark", token: alice.token)
            #expect(unparked.body["chat"]?["status"]?.string == "assigned")
            #expect(unparked.body["chat"]?["activeSince"]?.string != nil)

            // Alice invites bob: both see and write, and bob gets the conversation so far.
            await first.socket.send(["type": "message.send", "chatId": first.chatId, "clientMessageId": "before-invite", "text": "Ich brauche Hilfe"])
            _ = try await alice.socket.messages(1, of: first.chatId)
            let invited = try await client.request("POST", "/api/v1/chats/\(first.chatId)/invite", token: alice.token, json: ["agentId": "bob"])
            #expect(invited.status == 200, "\(invited.text)")
            #expect(invited.body["chat"]?["invitedAgents"]?.array.map { $0["id"]?.string } == ["bob"])
            let history = try await bob.socket.messages(1, of: first.chatId)
            #expect(history.first?["text"]?.string == "Ich brauche Hilfe")
            await bob.socket.send(["type": "message.send", "chatId": first.chatId, "clientMessageId": "bob-joins", "text": "Bob hier"])
            #expect(try await first.socket.messages(2, of: first.chatId).last?["text"]?.string == "Bob hier")
            #expect(try await alice.socket.messages(1, of: first.chatId).first?["text"]?.string == "Bob hier")
            #expect(try await bob.socket.messages(1, of: first.chatId).first?["text"]?.string == "Bob hier", "his own message comes back with its seq")
            let twice = try await client.request("POST", "/api/v1/chats/\(first.chatId)/invite", token: alice.token, json: ["agentId": "bob"])
            #expect(twice.status == 409)

            // Transfer to bob: the visitor continues with him.
            let toBob = try await client.request("POST", "/api/v1/chats/\(first.chatId)/transfer", token: alice.token, json: ["toAgentId": "bob"])
            #expect(toBob.status == 200)
            let told = try await first.socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "transferred" }
            #expect(told["chat"]?["agent"]?["id"]?.string == "bob")
            await first.socket.send(["type": "message.send", "chatId": first.chatId, "clientMessageId": "after-transfer", "text": "Hallo Bob"])
            let atBob = try await bob.socket.messages(1, of: first.chatId)
            #expect(atBob.first?["text"]?.string == "Hallo Bob")

            // Bob returns it to the queue: the visitor is told and waits again.
            let returned = try await client.request("POST", "/api/v1/chats/\(first.chatId)/return", token: bob.token)
            #expect(returned.body["chat"]?["status"]?.string == "queued")
            let back = try await first.socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "returned_to_queue" }
            #expect(back["chat"]?["position"]?.int == 1, "it keeps its original place")

            // Transfer to another department: sales is open (alice is in it).
            _ = try await client.request("POST", "/api/v1/chats/\(visitors[1].chatId)/take", token: alice.token)
            let toSales = try await client.request("POST", "/api/v1/chats/\(visitors[1].chatId)/transfer", token: alice.token, json: ["toDepartmentId": "sales"])
            #expect(toSales.status == 200)
            let leaving = try await visitors[1].socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "transferred" }
            #expect(leaving["chat"]?["status"]?.string == "transferring")
            let inSales = try await visitors[1].socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "queued" }
            #expect(inSales["chat"]?["departmentId"]?.string == "sales")
            #expect(inSales["chat"]?["status"]?.string == "queued")
            // Only alice is in sales; she can take it there.
            let retake = try await client.request("POST", "/api/v1/chats/\(visitors[1].chatId)/take", token: alice.token)
            try #require(retake.status == 200, "\(retake.text)")
            #expect(retake.body["chat"]?["departmentId"]?.string == "sales")

            let nowhere = try await client.request("POST", "/api/v1/chats/\(visitors[1].chatId)/transfer", token: alice.token, json: [:])
            #expect(nowhere.status == 422)

            // The visitor ends the chat: alice is in wrap-up for it until she finishes.
            let second = visitors[1]
            let ended = try await client.request("POST", "/api/v1/chats/\(second.chatId)/close", token: second.token)
            #expect(ended.status == 200)
            let wrapping = try await alice.socket.next { $0["type"]?.string == "chat.updated" && $0["change"]?.string == "wrapup_started" && $0["chat"]?["chatId"]?.string == second.chatId }
            #expect(wrapping["chat"]?["wrapUp"]?["state"]?.string == "active")
            #expect(wrapping["chat"]?["wrapUp"]?["since"]?.string != nil)
            #expect(wrapping["chat"]?["closedBy"]?["role"]?.string == "visitor", "the agent sees who ended it")
            // The visitor sees who ended the chat, not the agent's after-chat work.
            let seenByVisitor = try await client.request("GET", "/api/v1/chats/\(second.chatId)", token: second.token).body["chat"]
            #expect(seenByVisitor?["closedBy"]?["role"]?.string == "visitor")
            #expect(seenByVisitor?["wrapUp"] == nil)
            // Another tab of alice's finds the unfinished wrap-up in its hello.
            let secondTab = try await client.socket(token: alice.token)
            let hello = try await secondTab.next(type: "hello")
            #expect(hello["chats"]?.array.contains { $0["chatId"]?.string == second.chatId && $0["wrapUp"]?["state"]?.string == "active" } == true)
            await secondTab.close()
            let finished = try await client.request("POST", "/api/v1/chats/\(second.chatId)/finish-wrapup", token: alice.token)
            #expect(finished.status == 200, "\(finished.text)")
            #expect(finished.body["chat"]?["wrapUp"]?["state"]?.string == "done")
            let finishedTwice = try await client.request("POST", "/api/v1/chats/\(second.chatId)/finish-wrapup", token: alice.token)
            #expect(finishedTwice.status == 409)
        }
    }
}
