import ChatDevKit
import Foundation
import Testing

/// E2/A9: every visitor token is a contact "Guest-N"; N is unique across gateways and stays
/// with the token; agents and the archive see it, and archive searches find it.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct ContactNumberTests {
    @Test func visitorsAreNumberedOnceAcrossGatewaysAndKeepTheirNumber() async throws {
        let secret = String(repeating: "k", count: 40)
        try await RunningSystem.with(environment: ["GATEWAY_TOKEN_SECRET": secret]) { system in
            let client = system.client
            let second = ChatClient(baseURL: try system.cluster.startAnotherGateway(instance: 2, port: DevCluster.freePort()))
            try await eventually("the second gateway answers") { (try? await second.request("GET", "/api/v1/departments"))?.status == 200 }

            // Anonymous visitors on both gateways at once: every number once.
            let created = try await withThrowingTaskGroup(of: JSON.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        let reply = try await (index.isMultiple(of: 2) ? client : second).request("POST", "/api/v1/visitors", body: Data("{}".utf8))
                        guard reply.status == 201 else { throw ClientError("visitor refused: \(reply.status) \(reply.text)") }
                        return reply.body
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let contacts = created.compactMap { $0["contact"]?.string }
            #expect(contacts.count == 12 && Set(contacts).count == 12, "\(contacts)")
            #expect(contacts.allSatisfy { $0.hasPrefix("Guest-") && Int($0.dropFirst(6)) != nil })
            #expect(created.allSatisfy { $0["displayName"]?.string == $0["contact"]?.string }, "anonymous visitors are shown by their contact name")

            // A named visitor is a contact too; their chats carry it to agents and the archive.
            let named = try await client.request("POST", "/api/v1/visitors", json: ["displayName": "Grete Müller"])
            let token = try #require(named.body["token"]?.string)
            let contact = try #require(named.body["contact"]?.string)
            #expect(named.body["displayName"]?.string == "Grete Müller" && !contacts.contains(contact))
            let alice = try await system.connectAgent("alice")
            var chats: [String] = []
            for round in 1...2 {
                let chatId = try await system.startChat(visitorToken: token)
                chats.append(chatId)
                let queued = try await eventuallyValue("the chat in the queue") {
                    try await client.request("GET", "/api/v1/queue", token: alice.token).body["chats"]?.array.first { $0["chatId"]?.string == chatId }
                }
                #expect(queued["visitor"]?["contact"]?.string == contact, "round \(round): the same token is the same contact")
                #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token).status == 200)
                #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: alice.token).status == 200)
            }
            let other = try await client.visitor(named: "Otto")
            let otherChat = try await system.startChat(visitorToken: other.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(otherChat)/take", token: alice.token).status == 200)
            #expect(try await client.request("POST", "/api/v1/chats/\(otherChat)/close", token: alice.token).status == 200)

            let found = try await eventuallyValue("the contact's chats found by its name in the archive") { () -> [JSON]? in
                let reply = try await client.request("GET", "/api/v1/archive/chats?q=\(contact)&closed=true", token: alice.token)
                let chats = reply.body["chats"]?.array ?? []
                return chats.count == 2 ? chats : nil
            }
            #expect(Set(found.compactMap { $0["chatId"]?.string }) == Set(chats))
            #expect(found.allSatisfy { $0["contact"]?.string == contact && $0["visitor"]?["displayName"]?.string == "Grete Müller" })

            // A6: erasing the visitor removes the contact with their chats.
            #expect(try await client.request("DELETE", "/api/v1/visitors/me", token: token).status == 202)
            try await eventually("the contact gone from the archive") {
                try await client.request("GET", "/api/v1/archive/chats?q=\(contact)", token: alice.token).body["chats"]?.array.isEmpty == true
            }
        }
    }
}
