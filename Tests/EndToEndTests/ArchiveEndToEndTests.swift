import ChatDevKit
import ChatKafka
import ChatWire
import Foundation
import Logging
import Testing

/// E1-E5 and A6 against the real services: the archive's lists and search, the story of a
/// chat, deleting, retention, streamed exports, and erasure that reaches every store.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct ArchiveEndToEndTests {
    static let accounts = [TestAccounts.standard,
                           TestAccounts.entry("sam", name: "Sam Super", departments: ["support"], roles: ["agent", "supervisor"]),
                           TestAccounts.entry("root", name: "Root Admin", departments: ["support", "sales"], roles: ["agent", "admin"])].joined(separator: ";")

    @Test func listsSearchesShowsTheStoryAndDeletes() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_AGENTS": Self.accounts]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let sam = try await client.agent("sam")
            let root = try await client.agent("root")
            let greta = try await client.visitor(named: "Greta Garbo")
            let first = try await system.converse(visitor: greta, agent: alice.token, lines: ["Hello", "Hi Greta", "Bye"])
            let second = try await system.converse(visitor: greta, agent: alice.token, lines: ["Me again"])
            let otto = try await client.visitor(named: "Otto Normal")
            let open = try await system.startChat(visitorToken: otto.token)

            // E1: the story and the transcript.
            let chat = try await system.archived(first, messages: 3, token: alice.token)
            let steps = chat["story"]?.array.compactMap { $0["type"]?.string } ?? []
            #expect(steps == ["chat.queued", "chat.assigned", "chat.parked", "chat.unparked", "chat.closed", "chat.wrapup_started", "chat.wrapup_finished"])
            #expect(chat["agents"]?.array.first?["displayName"]?.string == "Alice Adams")
            #expect(chat["closedBy"]?["id"]?.string == "alice")
            #expect(chat["messages"]?.array.map { $0["text"]?.string ?? "" } == ["Hello", "Hi Greta", "Bye"])
            _ = try await system.archived(second, messages: 1, token: alice.token)

            // E3: newest first; search by name (not content); the contact's earlier chats; paging.
            let all = try await client.request("GET", "/api/v1/archive/chats", token: alice.token)
            #expect(all.status == 200)
            #expect(all.body["chats"]?.array.compactMap { $0["chatId"]?.string }.prefix(3) == [open, second, first][...])
            let byName = try await client.request("GET", "/api/v1/archive/chats?q=garbo", token: alice.token)
            #expect(Set(byName.body["chats"]?.array.compactMap { $0["chatId"]?.string } ?? []) == [first, second])
            let byContent = try await client.request("GET", "/api/v1/archive/chats?q=again", token: alice.token)
            #expect(byContent.body["chats"]?.array.isEmpty == true)
            let contact = try await client.request("GET", "/api/v1/archive/chats?visitorId=\(greta.id)", token: alice.token)
            #expect(contact.body["chats"]?.array.count == 2)
            let page1 = try await client.request("GET", "/api/v1/archive/chats?limit=1&closed=true", token: alice.token)
            let cursor = try #require(page1.body["nextCursor"]?.string)
            #expect(page1.body["chats"]?.array.first?["chatId"]?.string == second)
            let page2 = try await client.request("GET", "/api/v1/archive/chats?limit=1&closed=true&cursor=\(cursor)", token: alice.token)
            #expect(page2.body["chats"]?.array.first?["chatId"]?.string == first)
            #expect(try await client.request("GET", "/api/v1/archive/chats?cursor=nonsense", token: alice.token).status == 422)
            #expect(try await client.request("GET", "/api/v1/archive/chats?from=yesterday", token: alice.token).status == 422)
            #expect(try await client.request("GET", "/api/v1/archive/chats", token: greta.token).status == 403)
            let mine = try await client.request("GET", "/api/v1/archive/chats?mine=true", token: sam)
            #expect(mine.body["chats"]?.array.isEmpty == true)

            // E4: agents may not delete; an open chat cannot be deleted; a closed one goes
            // from the archive and from the gateway's view.
            #expect(try await client.request("DELETE", "/api/v1/archive/chats/\(first)", token: alice.token).status == 403)
            let refused = try await client.request("DELETE", "/api/v1/archive/chats/\(open)", token: sam)
            #expect(refused.status == 409)
            #expect(refused.body["error"]?["code"]?.string == "chat_open")
            #expect(try await client.request("DELETE", "/api/v1/archive/chats/\(first)", token: sam).status == 200)
            #expect(try await client.request("GET", "/api/v1/archive/chats/\(first)", token: alice.token).status == 404)
            try await eventually("the view forgot the deleted chat") {
                try await client.request("GET", "/api/v1/chats/\(first)", token: alice.token).status == 404
            }
            #expect(try await client.request("DELETE", "/api/v1/archive/chats/\(first)", token: sam).status == 404)
            // Without a relay or a webhook, asking for either says so.
            let noMail = try await client.request("POST", "/api/v1/chats/\(second)/transcript/email", token: greta.token, json: ["email": "g@example.org"])
            #expect(noMail.status == 503 && noMail.body["error"]?["code"]?.string == "not_configured")
            #expect(try await client.request("POST", "/api/v1/chats/\(second)/ticket", token: alice.token, json: ["note": "x"]).status == 503)

            // "Delete all closed chats": the open one stays.
            #expect(try await client.request("DELETE", "/api/v1/archive/chats", token: root).status == 422)
            let cleared = try await client.request("DELETE", "/api/v1/archive/chats?status=closed", token: root)
            #expect(cleared.status == 200)
            #expect(cleared.body["deleted"]?.int == 1)
            let left = try await client.request("GET", "/api/v1/archive/chats", token: root)
            #expect(left.body["chats"]?.array.compactMap { $0["chatId"]?.string } == [open])
        }
    }

    @Test func exportsStreamEveryChatAsCSVAndJSON() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_AGENTS": Self.accounts]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let sam = try await client.agent("sam")
            let tricky = "=SUM(A1), \"quoted\"\nsecond line; ümlaut 😀"
            var ids: [String] = []
            for index in 0..<3 {
                let visitor = try await client.visitor(named: "Export Visitor \(index)")
                ids.append(try await system.converse(visitor: visitor, agent: alice.token, lines: [tricky, "answer \(index)"]))
            }
            for id in ids { _ = try await system.archived(id, messages: 2, token: alice.token) }

            let csv = try await client.request("GET", "/api/v1/archive/export?format=csv", token: sam)
            #expect(csv.status == 200)
            #expect(csv.headers["content-type"] == "text/csv; charset=utf-8")
            #expect(csv.headers["x-archive-chats"] == "3")
            let rows = CSV.parse(csv.text)
            #expect(rows.first?.first == "chat_id")
            #expect(rows.dropFirst().map { $0[0] } == ids)
            let transcript = try #require(rows.dropFirst().first?.last)
            #expect(transcript.contains(tricky))
            #expect(rows.dropFirst().allSatisfy { $0.count == rows[0].count })

            let json = try await client.request("GET", "/api/v1/archive/export?format=json&from=2000-01-01", token: sam)
            #expect(json.status == 200)
            #expect(json.body.array.compactMap { $0["chatId"]?.string } == ids)
            #expect(json.body.array.first?["messages"]?.array.first?["text"]?.string == tricky)

            // The operator's CLI streams the same export into a file.
            let folder = system.cluster.options.dataDirectory
            let passwordFile = folder.appendingPathComponent("sam-password")
            try TestAccounts.password.write(to: passwordFile, atomically: true, encoding: .utf8)
            let file = folder.appendingPathComponent("export.csv")
            let chatctl = DevCluster.defaultBinDirectory().appendingPathComponent("chatctl").path
            let run = try runProcess(chatctl, ["export", "--gateway", system.cluster.gatewayURL, "--login", "sam", "--password-file", passwordFile.path,
                                               "--format", "csv", "--from", "2000-01-01", "--output", file.path])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("exported 3 chats"))
            #expect(CSV.parse(try String(contentsOf: file, encoding: .utf8)).dropFirst().map { $0[0] } == ids)
            let refused = try runProcess(chatctl, ["export", "--gateway", system.cluster.gatewayURL, "--login", "alice", "--password-file", passwordFile.path,
                                                   "--output", folder.appendingPathComponent("x.csv").path])
            #expect(refused.status != 0 && refused.output.contains("403"), "\(refused.output)")

            // A range that holds nothing, the roles, bad parameters.
            let empty = try await client.request("GET", "/api/v1/archive/export?format=json&to=2000-01-01", token: sam)
            #expect(empty.body.array.isEmpty && empty.headers["x-archive-chats"] == "0")
            #expect(try await client.request("GET", "/api/v1/archive/export", token: alice.token).status == 403)
            #expect(try await client.request("GET", "/api/v1/archive/export?format=xml", token: sam).status == 422)
        }
    }

    @Test func retentionDeletesChatsOlderThanTheDepartmentKeepsThem() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_AGENTS": Self.accounts, "ARCHIVER_RETENTION_CHECK_SECONDS": "1"]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let root = try await client.agent("root")
            let recent = try await system.converse(visitor: try await client.visitor(named: "Recent Rita"), agent: alice.token, lines: ["now"])
            _ = try await system.archived(recent, messages: 1, token: root)

            // A chat that ended 40 days ago, as the log holds it.
            let old = WireID.make()
            let longAgo = Date().addingTimeInterval(-40 * 86_400)
            let visitor = Participant(role: .visitor, id: "v-" + WireID.make(), displayName: "Old Olga")
            let producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: try #require(system.cluster.bootstrap), clientID: "history")),
                logger: Logger(label: "history"))
            for event: WireEvent in [.chatQueued(ChatQueued(chatId: old, departmentId: "support", visitor: visitor, queuedAt: longAgo)),
                                     .chatClosed(ChatClosed(chatId: old, departmentId: "support", closedBy: visitor))] {
                let envelope = Envelope(occurredAt: longAgo, producer: "history", event: event)
                _ = try await producer.send(KafkaOutgoingRecord(topic: Topic.chatConversations.name, key: old, value: WireCodec.encode(envelope)))
            }
            await producer.shutdown()
            _ = try await system.archived(old, messages: 0, token: root)

            // Admin only; bad values refused; 30 days: the old chat goes, the recent stays.
            #expect(try await client.request("PUT", "/api/v1/departments/support/settings", token: alice.token, json: ["retentionDays": 30]).status == 403)
            #expect(try await client.request("PUT", "/api/v1/departments/support/settings", token: root, json: ["retentionDays": 0]).status == 422)
            let set = try await client.request("PUT", "/api/v1/departments/support/settings", token: root, json: ["retentionDays": 30])
            #expect(set.status == 200)
            #expect(set.body["settings"]?["retentionDays"]?.int == 30)
            #expect(try await client.request("GET", "/api/v1/departments/support/settings", token: root).body["settings"]?["retentionDays"]?.int == 30)
            try await eventually("the old chat deleted by retention") {
                try await client.request("GET", "/api/v1/archive/chats/\(old)", token: root).status == 404
            }
            try await eventually("the view forgot it too") {
                try await client.request("GET", "/api/v1/chats/\(old)", token: root).status == 404
            }
            #expect(try await client.request("GET", "/api/v1/archive/chats/\(recent)", token: root).status == 200)
        }
    }

    /// A6: after "delete my data", no store of any service holds the visitor's name or
    /// words; another visitor's stay (so the scan can fail).
    @Test func erasureLeavesNothingOfTheVisitorInAnyStore() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_AGENTS": Self.accounts]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let marker = "ZQX" + WireID.make().prefix(8).uppercased()
            let keeper = "KPQ" + WireID.make().prefix(8).uppercased()
            let erased = try await client.visitor(named: "Name \(marker)")
            let kept = try await client.visitor(named: "Name \(keeper)")
            let erasedChat = try await system.converse(visitor: erased, agent: alice.token, lines: ["mine \(marker)", "reply to \(marker)", "bye \(marker)"])
            let keptChat = try await system.converse(visitor: kept, agent: alice.token, lines: ["mine \(keeper)"])
            _ = try await system.archived(erasedChat, messages: 3, token: alice.token)
            _ = try await system.archived(keptChat, messages: 1, token: alice.token)
            let bootstrap = try #require(system.cluster.bootstrap)
            let registrations = try await TopicScan.latestPerKey(bootstrap: bootstrap, topics: [.visitorContacts])
            func key(of visitorId: String) throws -> Data {
                let value = try #require(registrations[TopicScan.Key(topic: Topic.visitorContacts.name, key: visitorId)])
                guard case .visitorRegistered(let registered) = try WireCodec.decode(Array(value)).event, let key = registered.key else {
                    throw TopicScan.Unexpected(what: "no key registered for \(visitorId)")
                }
                return key.bytes
            }
            let erasedKey = try key(of: erased.id)
            let keptKey = try key(of: kept.id)

            // Refused while a chat is open; then accepted.
            let again = try await system.startChat(visitorToken: erased.token)
            let refused = try await client.request("DELETE", "/api/v1/visitors/me", token: erased.token)
            #expect(refused.status == 409)
            #expect(try await client.request("POST", "/api/v1/chats/\(again)/close", token: erased.token).status == 200)
            #expect(try await client.request("DELETE", "/api/v1/visitors/me", token: alice.token).status == 403)
            let accepted = try await client.request("DELETE", "/api/v1/visitors/me", token: erased.token)
            #expect(accepted.status == 202)
            #expect(try await client.request("GET", "/api/v1/chats/\(erasedChat)", token: alice.token).status == 404)
            // The token outlives its key: it can no longer write anything about the visitor.
            try await eventually("the erased token starts nothing") {
                let retry = try await client.request("POST", "/api/v1/chats", token: erased.token, json: ["departmentId": "support"])
                return retry.status == 401 && retry.body["error"]?["code"]?.string == "visitor_unknown"
            }
            try await eventually("the archive forgot the visitor") {
                let reply = try await client.request("GET", "/api/v1/archive/chats?visitorId=\(erased.id)", token: alice.token)
                return reply.status == 200 && reply.body["chats"]?.array.isEmpty == true
            }

            // Every SQLite file (and write-ahead log) of every service: no marker left.
            try await eventually(timeout: .seconds(30), "no store holds the marker") {
                let hits = try StoreScan.files(in: system.cluster.options.dataDirectory, containing: marker)
                return hits.isEmpty
            }
            #expect(try !StoreScan.files(in: system.cluster.options.dataDirectory, containing: keeper).isEmpty, "the scan sees what is kept")
            // The erased visitor's key is in no store; the other visitor's is (gateway, archiver).
            try await eventually(timeout: .seconds(30), "no store holds the erased visitor's key") {
                try StoreScan.files(in: system.cluster.options.dataDirectory, containing: erasedKey).isEmpty
            }
            #expect(try StoreScan.files(in: system.cluster.options.dataDirectory, containing: keptKey).count >= 2, "keyrings hold the kept key")
            #expect(try await client.request("GET", "/api/v1/archive/chats/\(keptChat)", token: alice.token).status == 200)

            // Every record of every topic, delete-policy ones included (they keep records until
            // retention): no marker in clear, only strings sealed with the key that is gone.
            let everything = try await TopicScan.records(bootstrap: bootstrap, topics: Topic.allCases)
            let leaks = everything.filter { $0.value.range(of: Data(marker.utf8)) != nil }.map(\.key.description)
            #expect(leaks.isEmpty, "records with the marker in clear: \(leaks)")
            let sealed = everything.filter { $0.value.range(of: Data("sealed:v1:\(erased.id):".utf8)) != nil }
            #expect(Set(sealed.map(\.key.topic)).isSuperset(of: [Topic.chatCommands.name, Topic.chatConversations.name, Topic.gatewayReplies.name]),
                    "the scan reads the visitor's sealed words: \(Set(sealed.map(\.key.topic)))")
            #expect(everything.contains { $0.value.range(of: Data(keeper.utf8)) != nil } == false, "the other visitor's words are sealed too")

            // Every compacted topic as compaction will leave it (the newest record per key):
            // no marker, and the visitor's contact record is a tombstone.
            var found: [String] = []
            do {
                try await eventually(timeout: .seconds(30), "no compacted topic keeps the marker") {
                    let latest = try await TopicScan.latestPerKey(bootstrap: bootstrap, topics: Topic.allCases.filter { $0.cleanupPolicy == "compact" })
                    found = latest.filter { $0.value.range(of: Data(marker.utf8)) != nil }.map(\.key.description)
                    if latest[TopicScan.Key(topic: Topic.visitorContacts.name, key: erased.id)]?.isEmpty != true { found.append("no tombstone for \(erased.id)") }
                    return found.isEmpty
                }
            } catch {
                Issue.record("compacted topics still hold the erased visitor: \(found)")
            }
            let latest = try await TopicScan.latestPerKey(bootstrap: bootstrap, topics: [.visitorContacts])
            #expect(latest[TopicScan.Key(topic: Topic.visitorContacts.name, key: kept.id)]?.isEmpty == false, "the scan sees what is kept")
        }
    }
}

/// Reads topics from the beginning, keeping the newest value of each key: what compaction
/// keeps. A tombstone reads as an empty value.
enum TopicScan {
    struct Key: Hashable, CustomStringConvertible {
        var topic: String
        var key: String
        var description: String { "\(topic)/\(key)" }
    }

    struct Unexpected: Error, CustomStringConvertible {
        var what: String
        var description: String { what }
    }

    /// Every record of `topics`, in each partition's order.
    static func records(bootstrap: String, topics: [Topic]) async throws -> [(key: Key, value: Data)] {
        let reader = KafkaConsumerConfiguration(client: KafkaClientConfiguration(bootstrapServers: bootstrap, clientID: "topic-scan"), groupID: "topic-scan")
        let consumer = try KafkaConsumer(configuration: reader, subscription: .allPartitions(topics: topics.map(\.name), startOffsets: { _ in [:] }),
                                         logger: .init(label: "topic-scan"))
        var records: [(key: Key, value: Data)] = []
        var quietSince = ContinuousClock.now
        while ContinuousClock.now - quietSince < .seconds(2) {
            let batch = try await consumer.poll(maxRecords: 1_000, timeout: .milliseconds(200))
            if !batch.isEmpty { quietSince = .now }
            for record in batch {
                records.append((Key(topic: record.topic, key: String(decoding: record.key ?? [], as: UTF8.self)), Data(record.value)))
            }
        }
        await consumer.close()
        return records
    }

    static func latestPerKey(bootstrap: String, topics: [Topic]) async throws -> [Key: Data] {
        var latest: [Key: Data] = [:]
        for record in try await records(bootstrap: bootstrap, topics: topics) { latest[record.key] = record.value }
        return latest
    }
}

/// Reads store files byte by byte (what a disk thief would see).
enum StoreScan {
    static func files(in directory: URL, containing marker: String) throws -> [String] {
        try files(in: directory, containing: Data(marker.utf8))
    }

    static func files(in directory: URL, containing needle: Data) throws -> [String] {
        let names = try FileManager.default.subpathsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sqlite") || $0.hasSuffix(".sqlite-wal") || $0.hasSuffix(".sqlite-journal") }
        #expect(names.filter { $0.hasSuffix(".sqlite") }.count >= 4, "every service's store is scanned: \(names)")
        return try names.filter { name in
            try Data(contentsOf: directory.appendingPathComponent(name)).range(of: needle) != nil
        }
    }
}

/// RFC 4180 parsing, enough to read the export back.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var characters = text.makeIterator()
        var pending: Character?
        while let character = pending ?? characters.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r\n", "\n":
                row.append(field); field = ""
                rows.append(row); row = []
            default: field.append(character)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}

extension RunningSystem {
    /// A chat from start to end: taken by `agent`, a message each way, ended by the agent,
    /// wrap-up finished. Returns its id.
    func converse(visitor: (token: String, id: String), agent: String, lines: [String]) async throws -> String {
        let chatId = try await startChat(visitorToken: visitor.token)
        #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent).status == 200)
        for (index, line) in lines.enumerated() {
            let token = index.isMultiple(of: 2) ? visitor.token : agent
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: token,
                                             json: ["clientMessageId": "m\(index)", "text": line]).status == 202)
        }
        #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/park", token: agent).status == 200)
        #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/unpark", token: agent).status == 200)
        #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: agent).status == 200)
        try await eventually("wrap-up finished") {
            try await client.request("POST", "/api/v1/chats/\(chatId)/finish-wrapup", token: agent).status == 200
        }
        return chatId
    }

    /// Waits until the archive lists `chatId` closed, with its messages filed.
    func archived(_ chatId: String, messages: Int, token: String) async throws -> JSON {
        try await eventuallyValue("chat \(chatId) archived") { () -> JSON? in
            let reply = try await client.request("GET", "/api/v1/archive/chats/\(chatId)", token: token)
            guard reply.status == 200, let chat = reply.body["chat"], chat["closedAt"]?.string != nil,
                  chat["messages"]?.array.count == messages else { return nil }
            return chat
        }
    }

}
