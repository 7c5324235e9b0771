import ChatKafka
@testable import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Testing

/// Counts events per id in its own table: a test applier that shows whether each event
/// was applied exactly once.
struct CountingApplier: EventApplier {
    typealias Effect = String

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [String] {
        if case .agentAvailabilitySet(let change) = envelope.event, change.agentId == "reject-me" {
            throw RecordRejection("refused on purpose")
        }
        try db.execute(sql: "INSERT INTO applied (event_id) VALUES (?)", arguments: [envelope.id])
        return [envelope.id]
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct ConsumerLoopTests {
    let logger = Logger(label: "test")
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("test-1", { db in try db.create(table: "applied") { $0.column("event_id", .text).notNull() } }),
    ]

    func temporaryStorePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)/test.sqlite").path
    }

    @Test func storeUsesWALAndKeepsOffsetsOutboxAndEventIds() throws {
        let store = try ServiceStore(path: temporaryStorePath(), migrations: Self.migrations)
        let mode = try store.database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        try store.database.write { db in
            try ConsumerOffsets.store(db, topic: "t", partition: 2, nextOffset: 41)
            try ConsumerOffsets.store(db, topic: "t", partition: 2, nextOffset: 42)
            #expect(try ProcessedEvents.markNew(db, eventID: "e1"))
            #expect(try !ProcessedEvents.markNew(db, eventID: "e1"))
            try Outbox.append(db, topic: "t", key: [1], partition: nil, value: [2])
            try Outbox.append(db, topic: "t", key: [3], partition: 1, value: [4])
        }
        try store.database.write { db in
            #expect(try ConsumerOffsets.load(db, topics: ["t"]) == ["t": [2: 42]])
            let entries = try Outbox.next(db, limit: 10)
            #expect(entries.map(\.key) == [[1], [3]])
            #expect(entries.map(\.partition) == [nil, 1])
            try Outbox.remove(db, through: entries[0].sequence)
            #expect(try Outbox.count(db) == 1)
            try ProcessedEvents.prune(db, olderThan: 60, now: Date().addingTimeInterval(120))
            #expect(try ProcessedEvents.markNew(db, eventID: "e1"))
        }
    }

    @Test func eachEventIsAppliedOnceAcrossRestartsDuplicatesAndGarbage() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic(Topic.presenceCommands.name, partitions: 2)
        let common = try CommonConfiguration(service: "test", environment: .init(["CHAT_KAFKA_BOOTSTRAP": cluster.bootstrapServers, "CHAT_INSTANCE_ID": "test-1"]))
        let producer = try KafkaProducer(configuration: common.producerConfiguration(), logger: logger)
        func send(_ envelope: Envelope) async throws {
            _ = try await producer.send(WireRecord(topic: .presenceCommands, key: "alice", envelope: envelope))
        }
        let events = (0..<20).map { Envelope(id: "e\($0)", producer: "test", event: .agentAvailabilitySet(AgentAvailabilitySet(agentId: "alice", available: $0 % 2 == 0))) }
        for event in events[0..<10] { try await send(event) }
        _ = try await producer.send(KafkaOutgoingRecord(topic: Topic.presenceCommands.name, key: "alice", value: Array("garbage".utf8)))
        try await send(events[3]) // a re-sent duplicate
        try await send(Envelope(producer: "test", event: .agentAvailabilitySet(AgentAvailabilitySet(agentId: "reject-me", available: true))))

        let path = temporaryStorePath()
        func runLoop(until count: Int) async throws {
            let store = try ServiceStore(path: path, migrations: Self.migrations)
            let loop = ConsumerLoop(name: "test", topics: [.presenceCommands], mode: .group(groupID: "test-group"), store: store,
                                    common: common, applier: CountingApplier(), outbox: nil, health: ServiceHealth(), logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await loop.run() }
                let deadline = ContinuousClock.now + .seconds(30)
                while try await store.database.read({ try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM applied") ?? 0 }) < count,
                      ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                group.cancelAll()
            }
        }
        try await runLoop(until: 10)
        // The second run resumes from the stored offsets: only new events are applied.
        for event in events[10..<20] { try await send(event) }
        try await send(events[12])
        try await runLoop(until: 20)

        let store = try ServiceStore(path: path, migrations: Self.migrations)
        let applied = try await store.database.read { try String.fetchAll($0, sql: "SELECT event_id FROM applied") }
        #expect(applied.sorted() == events.map(\.id).sorted())
        #expect(Set(applied).count == applied.count, "no event applied twice")
        await producer.shutdown()
    }
}
