import ChatKafka
@testable import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Testing

/// Keeps the text of every message it applies, as the consumer loop handed it over.
struct MessageTextApplier: EventApplier {
    typealias Effect = Never

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        if case .messagePosted(let message) = envelope.event {
            try db.execute(sql: "INSERT INTO texts (message_id, text) VALUES (?, ?)", arguments: [message.messageId, message.text])
        }
        return []
    }
}

/// A6 crypto-shredding through the real consumer loops on the mock broker: sealed strings
/// open with the keyring, a key registered elsewhere a moment ago is waited for, and after
/// the tombstone the key is gone and the same words read `[erased]`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct VisitorKeyringTests {
    let logger = Logger(label: "test")

    @Test func sealedMessagesOpenUntilTheKeysTombstone() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic(Topic.visitorContacts.name, partitions: 1)
        try cluster.createTopic(Topic.chatConversations.name, partitions: 2)
        let common = try CommonConfiguration(service: "test", environment: .init(["CHAT_KAFKA_BOOTSTRAP": cluster.bootstrapServers, "CHAT_INSTANCE_ID": "test-1"]))
        let producer = try KafkaProducer(configuration: common.producerConfiguration(), logger: logger)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keyring-\(UUID().uuidString)/test.sqlite").path
        let store = try ServiceStore(path: path, migrations: [
            ("test-1", { db in try db.create(table: "texts") { $0.column("message_id", .text).primaryKey(); $0.column("text", .text).notNull() } }),
            VisitorKeyring.migration,
        ])
        let keyring = VisitorKeyring(store: store, common: common, logger: logger)
        let key = VisitorKey.generate()

        func post(_ id: String, _ text: String, owner: String = "v-1", keys: [String: VisitorKey]) async throws {
            let message = Envelope(producer: "test", event: .messagePosted(MessagePosted(
                chatId: "c-1", messageId: id, sender: Participant(role: .visitor, id: owner, displayName: "Vera"), text: text)))
            _ = try await producer.send(WireRecord(topic: .chatConversations, key: "c-1", envelope: message, sealing: SealingContext(owner: owner, keys: keys)))
        }
        func text(_ id: String) async throws -> String? {
            try await store.database.read { try String.fetchOne($0, sql: "SELECT text FROM texts WHERE message_id = ?", arguments: [id]) }
        }
        func eventually<T: Sendable>(_ what: String, _ read: () async throws -> T?) async throws -> T {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if let value = try await read() { return value }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TimedOut(what: what)
        }

        // The key is on the topic, but this instance's keyring starts reading it only later:
        // the conversation loop waits for it rather than filing "[erased]".
        _ = try await producer.send(WireRecord(topic: .visitorContacts, key: "v-1", envelope: Envelope(
            producer: "test", event: .visitorRegistered(VisitorRegistered(visitorId: "v-1", key: key)))))
        try await post("m-1", "hello from Vera", keys: ["v-1": key])
        let conversations = ConsumerLoop(name: "conversations", topics: [.chatConversations], mode: .allPartitions, store: store, common: common,
                                         applier: MessageTextApplier(), outbox: nil, keyring: keyring, health: ServiceHealth(), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await conversations.run() }
            group.addTask {
                try await Task.sleep(for: .seconds(1))
                try await keyring.loop(health: ServiceHealth()).run()
            }
            #expect(try await eventually("m-1 filed") { try await text("m-1") } == "hello from Vera")
            #expect(try await store.database.read { try VisitorKeyring.keys(for: ["v-1"], in: $0) } == ["v-1": key])

            // A visitor nobody registered: the loop waits only until the keyring is current.
            try await post("m-2", "from nowhere", owner: "v-2", keys: ["v-2": VisitorKey.generate()])
            #expect(try await eventually("m-2 filed") { try await text("m-2") } == SealedText.unreadable)

            // Erasure: the tombstone deletes the key; the same words no longer open.
            _ = try await producer.send(KafkaOutgoingRecord.tombstone(topic: Topic.visitorContacts.name, key: "v-1"))
            _ = try await eventually("key deleted") {
                try await store.database.read { try VisitorKeyring.keys(for: ["v-1"], in: $0) }.isEmpty ? true : nil
            }
            try await post("m-3", "hello again", keys: ["v-1": key])
            #expect(try await eventually("m-3 filed") { try await text("m-3") } == SealedText.unreadable)
            group.cancelAll()
        }
        // The store's files (the log included) no longer hold the deleted key.
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(bytes.range(of: key.bytes) == nil, "\(name) still holds the deleted key")
        }
    }
}

struct TimedOut: Error {
    var what: String
}
