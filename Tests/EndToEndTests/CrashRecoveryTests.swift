import ChatDevKit
import Foundation
import Testing

/// kill -9 of services in the middle of conversations: nothing lost, nothing repeated.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct CrashRecoveryTests {
    @Test func conversationsSurviveTheRouterAndArchiverBeingKilled() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Ola Nordmann")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            let take = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            #expect(take.status == 200)
            let visitorSocket = try await client.socket(token: visitor.token)
            _ = try await visitorSocket.next(type: "hello")

            var sent: [String] = []
            func exchange(_ round: String) async throws {
                for index in 0..<5 {
                    let visitorText = "visitor \(round) \(index)"
                    await visitorSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "v-\(round)-\(index)", "text": visitorText])
                    _ = try await visitorSocket.next { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "v-\(round)-\(index)" }
                    let agentText = "agent \(round) \(index)"
                    await agent.socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "a-\(round)-\(index)", "text": agentText])
                    _ = try await agent.socket.next { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "a-\(round)-\(index)" }
                    sent += [visitorText, agentText]
                }
            }
            try await exchange("before")

            // The router crashes. The conversation goes on; a new visitor's request waits
            // in Kafka and is answered once the router is back.
            await system.cluster.stop(.router, signal: SIGKILL)
            try await exchange("during")
            let latecomer = try await client.visitor(named: "Kari")
            async let lateStart = client.request("POST", "/api/v1/chats", token: latecomer.token, json: ["departmentId": "support"])
            try await Task.sleep(for: .milliseconds(500))
            try system.cluster.start(.router)
            // Kafka hands the dead member's partitions over after its session times out, so
            // the waiting request may time out first (504); the widget then retries, and the
            // retry finds the chat the first request opened: one chat, not two.
            var late = try await lateStart
            let deadline = ContinuousClock.now + .seconds(30)
            while late.status == 504, ContinuousClock.now < deadline {
                late = try await client.request("POST", "/api/v1/chats", token: latecomer.token, json: ["departmentId": "support"])
            }
            #expect([200, 201].contains(late.status), "the request sent while the router was down is served after it restarts: \(late.text)")
            let queue = try await client.request("GET", "/api/v1/queue", token: agent.token)
            let latecomersChats = queue.body["chats"]?.array.filter { $0["visitor"]?["id"]?.string == latecomer.id } ?? []
            #expect(latecomersChats.map { $0["chatId"]?.string } == [late.body["chat"]?["chatId"]?.string])

            // The archiver crashes too and replays what it had not committed.
            await system.cluster.stop(.archiver, signal: SIGKILL)
            try await exchange("after")
            try system.cluster.start(.archiver)

            for socket in [visitorSocket, agent.socket] {
                let messages = try await socket.messages(sent.count, of: chatId)
                #expect(messages.map { $0["text"]?.string } == sent)
                #expect(messages.map { $0["seq"]?.int } == Array(1...sent.count))
                try await socket.expectNoMoreMessages(of: chatId)
            }

            // The restarted router still knows who holds the chat.
            let otherAgent = try await system.connectAgent("bob")
            let steal = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: otherAgent.token)
            #expect(steal.body["error"]?["code"]?.string == "already_taken")
            let close = try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: agent.token)
            #expect(close.status == 200)

            let transcript = try await eventuallyValue(timeout: .seconds(30), "complete transcript after the archiver restart") { () -> JSON? in
                let reply = try await client.request("GET", "/api/v1/chats/\(chatId)/transcript", token: agent.token)
                guard reply.status == 200, reply.body["transcript"]?["closedAt"]?.string != nil else { return nil }
                return reply.body["transcript"]
            }
            #expect(transcript["messages"]?.array.map { $0["text"]?.string } == sent)
        }
    }

    @Test func aReloadedPageResumesWithoutLossOrDuplicates() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Reload")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            _ = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)

            let firstTab = try await client.socket(token: visitor.token)
            _ = try await firstTab.next(type: "hello")
            for index in 1...3 {
                let reply = try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: agent.token,
                                                     json: ["clientMessageId": "a-\(index)", "text": "reply \(index)"])
                #expect(reply.status == 202)
            }
            let seen = try await firstTab.messages(3, of: chatId)
            await firstTab.abort()

            // While the visitor is away the agent writes more.
            for index in 4...6 {
                _ = try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: agent.token,
                                             json: ["clientMessageId": "a-\(index)", "text": "reply \(index)"])
            }
            let secondTab = try await client.socket(token: visitor.token, resume: [chatId: seen.last?["seq"]?.int ?? 0])
            _ = try await secondTab.next(type: "hello")
            let resumed = try await secondTab.messages(3, of: chatId)
            #expect(resumed.map { $0["text"]?.string } == ["reply 4", "reply 5", "reply 6"])
            #expect(resumed.map { $0["seq"]?.int } == [4, 5, 6])
            try await secondTab.expectNoMoreMessages(of: chatId)
        }
    }
}

/// A broker outage: live updates resume by themselves when it is back.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct BrokerOutageTests {
    @Test func liveUpdatesContinueAfterTheBrokerWasDown() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Outage")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            _ = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            let visitorSocket = try await client.socket(token: visitor.token)
            _ = try await visitorSocket.next(type: "hello")
            await visitorSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "before", "text": "before"])
            _ = try await agent.socket.messages(1, of: chatId)

            system.cluster.signal(.broker, SIGUSR1)
            // While the broker is down, a message waits in the gateway's producer (the
            // client gets its acceptance once the broker has it).
            await visitorSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "during", "text": "during"])
            try await Task.sleep(for: .seconds(4))
            system.cluster.signal(.broker, SIGUSR2)

            _ = try await visitorSocket.next(timeout: .seconds(30)) { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "during" }
            await agent.socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "after", "text": "after"])
            let agentSide = try await agent.socket.messages(2, of: chatId, timeout: .seconds(30))
            #expect(agentSide.map { $0["text"]?.string } == ["during", "after"])
            let visitorSide = try await visitorSocket.messages(3, of: chatId, timeout: .seconds(30))
            #expect(visitorSide.map { $0["text"]?.string } == ["before", "during", "after"])
            let close = try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: agent.token)
            #expect(close.status == 200, "commands flow again after the outage")
        }
    }
}

/// The gateway (the cache of every view) is killed: clients reconnect, resume, and live
/// updates flow again, with nothing lost or repeated.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct GatewayRestartTests {
    @Test func liveUpdatesResumeAfterTheGatewayIsKilledAndRestarted() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_GRACE_SECONDS": "30"]) { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Neustart")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            _ = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            let visitorSocket = try await client.socket(token: visitor.token)
            _ = try await visitorSocket.next(type: "hello")
            await agent.socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "a-1", "text": "eins"])
            let seen = try await visitorSocket.messages(1, of: chatId)

            await system.cluster.stop(.gateway, signal: SIGKILL)
            try system.cluster.start(.gateway)
            try await system.cluster.waitUntilReady()

            // Both sides reconnect (tokens stay valid: the signing key is kept in the data folder).
            let agentAgain = try await client.socket(token: agent.token, resume: [chatId: 1])
            _ = try await agentAgain.next(type: "hello")
            let visitorAgain = try await client.socket(token: visitor.token, resume: [chatId: seen.last?["seq"]?.int ?? 0])
            _ = try await visitorAgain.next(type: "hello")
            await agentAgain.send(["type": "message.send", "chatId": chatId, "clientMessageId": "a-2", "text": "zwei"])
            _ = try await agentAgain.next { $0["type"]?.string == "message.accepted" && $0["clientMessageId"]?.string == "a-2" }
            await visitorAgain.send(["type": "message.send", "chatId": chatId, "clientMessageId": "v-1", "text": "drei"])
            let atVisitor = try await visitorAgain.messages(2, of: chatId, timeout: .seconds(20))
            #expect(atVisitor.map { $0["text"]?.string } == ["zwei", "drei"])
            let atAgent = try await agentAgain.messages(2, of: chatId, timeout: .seconds(20))
            #expect(atAgent.map { $0["seq"]?.int } == [2, 3])
            try await visitorAgain.expectNoMoreMessages(of: chatId)
            let close = try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: agent.token)
            #expect(close.status == 200)
        }
    }
}
