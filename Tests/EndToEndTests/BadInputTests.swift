import ChatDevKit
import ChatKafka
import ChatWire
import Foundation
import Logging
import Testing

/// Bad input at every edge gets a clear error or is skipped with a log line; nothing
/// crashes and nothing changes.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct BadInputTests {
    @Test func malformedRequestsFramesAndRecordsChangeNothing() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Tester")

            // HTTP: malformed JSON, missing fields, wrong types, no token, forged token.
            let garbage = try await client.request("POST", "/api/v1/chats", token: visitor.token, body: Data("{not json".utf8))
            #expect(garbage.status == 400)
            #expect(garbage.body["error"]?["code"]?.string == "malformed_request")
            let missing = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["department": "support"])
            #expect(missing.status == 400)
            #expect(missing.body["error"]?["message"]?.string?.contains("departmentId") == true)
            let wrongType = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": 7])
            #expect(wrongType.status == 400)
            let anonymous = try await client.request("POST", "/api/v1/chats", json: ["departmentId": "support"])
            #expect(anonymous.status == 401)
            let forged = try await client.request("POST", "/api/v1/chats", token: visitor.token + "x", json: ["departmentId": "support"])
            #expect(forged.status == 401)
            let unknown = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "nope"])
            #expect(unknown.status == 404)
            let emptyName = try await client.request("POST", "/api/v1/visitors", json: ["displayName": "   "])
            #expect(emptyName.status == 422)
            let queue = try await client.request("GET", "/api/v1/queue", token: agent.token)
            #expect(queue.body["chats"]?.array.isEmpty == true, "no bad request created a chat")

            // WebSocket: garbage, binary-free text that is not an object, unknown types, bad fields.
            let socket = try await client.socket(token: visitor.token)
            _ = try await socket.next(type: "hello")
            await socket.sendRaw("{{{")
            #expect(try await socket.next(type: "error")["code"]?.string == "malformed_frame")
            await socket.sendRaw("[1,2]")
            #expect(try await socket.next(type: "error")["code"]?.string == "malformed_frame")
            await socket.send(["type": "launch.rockets"])
            #expect(try await socket.next(type: "error")["code"]?.string == "unknown_type")
            await socket.send(["type": "message.send", "chatId": "nope"])
            #expect(try await socket.next(type: "error")["code"]?.string == "malformed_request")
            await socket.send(["type": "message.send", "chatId": "not-mine", "clientMessageId": "m1", "text": "hi"])
            #expect(try await socket.next(type: "error")["code"]?.string == "chat_not_found")
            await socket.send(["type": "ping"])
            _ = try await socket.next(type: "pong")

            let unauthorized = try await client.socket(token: "forged.token")
            #expect(try await unauthorized.next(type: "error")["code"]?.string == "unauthorized")

            // Kafka: garbage bytes, unknown event types and future schema versions on every
            // topic the services read. They log and skip them, and keep working.
            let producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: try #require(system.cluster.bootstrap), clientID: "intruder")),
                logger: Logger(label: "intruder"))
            let unknownType = #"{"id":"x1","type":"chat.teleported","schemaVersion":1,"occurredAt":"2026-11-23T10:00:00.000Z","producer":"intruder","payload":{}}"#
            let futureVersion = #"{"id":"x2","type":"chat.start_requested","schemaVersion":99,"occurredAt":"2026-11-23T10:00:00.000Z","producer":"intruder","payload":{}}"#
            let missingPayload = #"{"id":"x3","type":"chat.start_requested","schemaVersion":1,"occurredAt":"2026-11-23T10:00:00.000Z","producer":"intruder"}"#
            for topic in Topic.allCases {
                for value in ["\u{0}\u{1}garbage", unknownType, futureVersion, missingPayload, "{}"] {
                    _ = try await producer.send(KafkaOutgoingRecord(topic: topic.name, key: "support", value: Array(value.utf8)))
                }
            }
            await producer.shutdown()

            // Still alive and correct: a full start → take → message round trip works.
            let chatId = try await system.startChat(visitorToken: visitor.token)
            let take = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            #expect(take.status == 200)
            await socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "after-garbage", "text": "still here"])
            let delivered = try await agent.socket.messages(1, of: chatId)
            #expect(delivered.first?["text"]?.string == "still here")
            for component in [DevCluster.Component.gateway, .router, .presence, .archiver] {
                #expect(system.cluster.isRunning(component), "\(component.rawValue) survived")
                #expect(system.log(component).contains("skipping unreadable record"), "\(component.rawValue) logged what it skipped")
            }
        }
    }
}

/// A visitor flooding a chat is slowed down with a clear error; nothing they sent in
/// excess is stored.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RateLimitTests {
    @Test func messagesBeyondTheBurstAreRefusedUntilTheBucketRefills() async throws {
        try await RunningSystem.with(environment: ["GATEWAY_MESSAGE_BURST": "5", "GATEWAY_MESSAGES_PER_MINUTE": "1"]) { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Flut")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            _ = try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            var statuses: [Int] = []
            for index in 0..<8 {
                statuses.append(try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                                         json: ["clientMessageId": "m\(index)", "text": "\(index)"]).status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == 202 })
            #expect(statuses.suffix(3).allSatisfy { $0 == 429 })
            let socket = try await client.socket(token: visitor.token)
            _ = try await socket.next(type: "hello")
            await socket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "ws", "text": "again"])
            #expect(try await socket.next(type: "error")["code"]?.string == "rate_limited")
            // The agent has their own bucket, and got exactly the five accepted messages.
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: agent.token, json: ["clientMessageId": "a", "text": "ok"]).status == 202)
            let received = try await agent.socket.messages(6, of: chatId)
            #expect(received.map { $0["text"]?.string } == ["0", "1", "2", "3", "4", "ok"])
            try await agent.socket.expectNoMoreMessages(of: chatId)
        }
    }
}
