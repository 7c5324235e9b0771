import ChatKafka
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// The visitors' data keys a service holds (A6 crypto-shredding), in its own store: read
/// from `visitors.contacts`, deleted when a visitor's tombstone arrives. Services that
/// show or keep personal strings (gateways, archivers) open sealed strings with it, and
/// seal what they write about a visitor.
public final class VisitorKeyring: Sendable {
    public static let migration: (name: String, migrate: @Sendable (Database) throws -> Void) = ("keyring-1", { db in
        try db.create(table: "visitor_keys") { table in
            table.column("visitor_id", .text).primaryKey()
            table.column("key", .blob).notNull()
        }
    })

    let store: ServiceStore
    let common: CommonConfiguration
    let logger: Logger
    /// Keys read recently: every message a gateway writes or reads needs one, and a store
    /// read each time costs more than the sealing itself.
    let cache: KeyCache

    public init(store: ServiceStore, common: CommonConfiguration, logger: Logger) {
        self.store = store
        self.common = common
        self.logger = logger
        cache = KeyCache()
    }

    /// The service that keeps the keyring current.
    public func loop(health: ServiceHealth) -> ConsumerLoop<KeyringApplier> {
        ConsumerLoop(name: "keyring", topics: [.visitorContacts], mode: .allPartitions, store: store, common: common,
                     applier: KeyringApplier(store: store, cache: cache), outbox: nil, health: health, logger: logger)
    }

    /// The keys of `owners` this keyring holds, from the cache or else from the store (inside
    /// the caller's transaction).
    public func keys(for owners: Set<String>, in db: Database) throws -> [String: VisitorKey] {
        var keys = cache.keys(for: owners)
        let missing = owners.subtracting(keys.keys)
        guard !missing.isEmpty else { return keys }
        let read = try Self.keys(for: missing, in: db)
        cache.add(read)
        keys.merge(read) { $1 }
        return keys
    }

    private func keys(for owners: Set<String>) async throws -> [String: VisitorKey] {
        let cached = cache.keys(for: owners)
        if cached.count == owners.count { return cached }
        return try await store.database.read { try self.keys(for: owners, in: $0) }
    }

    /// The keys of `owners` that this keyring holds.
    public static func keys(for owners: Set<String>, in db: Database) throws -> [String: VisitorKey] {
        guard !owners.isEmpty else { return [:] }
        var keys: [String: VisitorKey] = [:]
        let rows = try Row.fetchAll(db, sql: "SELECT visitor_id, key FROM visitor_keys WHERE visitor_id IN (\(databaseQuestionMarks(count: owners.count)))",
                                    arguments: StatementArguments(Array(owners)))
        for row in rows {
            if let key = VisitorKey(bytes: row["key"]) { keys[row["visitor_id"]] = key }
        }
        return keys
    }

    /// Keeps a key this instance just registered, so it can seal at once.
    public func remember(_ key: VisitorKey, for visitorId: String) async throws {
        try await store.database.write { try KeyringApplier.store(key, for: visitorId, in: $0) }
        cache.add([visitorId: key])
    }

    /// Returns once every key of `owners` is here, or the keyring has read `visitors.contacts`
    /// as far as the broker had it when asked (a key still missing then belongs to an erased
    /// visitor, or to none). A visitor's key is written before their token is handed out, so
    /// it precedes every record about them; another instance may just not have read it yet.
    public func awaitKeys(_ owners: Set<String>) async {
        guard !owners.isEmpty else { return }
        let held = (try? await keys(for: owners).count) ?? 0
        if held < owners.count { await catchUp() }
    }

    /// How to seal a record about `owner` (waiting for the key if this instance has not read
    /// it yet). Without the key, sealing writes `[erased]` instead of the clear text.
    public func sealing(owner: String) async throws -> SealingContext {
        var keys = try await self.keys(for: [owner])
        if keys.isEmpty {
            await catchUp()
            keys = try await self.keys(for: [owner])
        }
        return SealingContext(owner: owner, keys: keys)
    }

    private func catchUp() async {
        let store = self.store
        let reader = common.consumerConfiguration(groupID: "\(common.instanceID).keyring-reader")
        let outcome = (try? await OffPool.run {
            StoreCatchUp.wait(store: store, reader: reader, topics: [Topic.visitorContacts.name], timeout: .seconds(10))
        }) ?? .endsUnknown
        if outcome != .caughtUp {
            logger.warning("the keyring did not catch up with visitors.contacts; sealed strings may read [erased]", metadata: ["outcome": "\(outcome)"])
        }
    }
}

/// Applies `visitors.contacts` to the keyring: a registration stores the key, a tombstone
/// deletes it.
public struct KeyringApplier: EventApplier {
    let store: ServiceStore
    let cache: KeyCache

    public func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [String] {
        if case .visitorRegistered(let registered) = envelope.event, let key = registered.key {
            try Self.store(key, for: registered.visitorId, in: db)
        }
        return []
    }

    public func applyTombstone(_ record: KafkaConsumedRecord, in db: Database) throws -> [String] {
        guard let key = record.key else { return [] }
        let visitorId = String(decoding: key, as: UTF8.self)
        try db.execute(sql: "DELETE FROM visitor_keys WHERE visitor_id = ?", arguments: [visitorId])
        cache.remove(visitorId)
        // The deleted key's page images leave the write-ahead log too (after this commit).
        Task { [store] in await store.truncateLog() }
        return [visitorId]
    }

    /// Again once the deletion committed: a reader may have cached the key from the store
    /// between the first removal and the commit.
    public func afterCommit(_ erased: [String]) async {
        for visitorId in erased { cache.remove(visitorId) }
    }

    static func store(_ key: VisitorKey, for visitorId: String, in db: Database) throws {
        try db.execute(sql: "INSERT INTO visitor_keys (visitor_id, key) VALUES (?, ?) ON CONFLICT (visitor_id) DO UPDATE SET key = excluded.key",
                       arguments: [visitorId, key.bytes])
    }
}

/// Recently used keys, bounded: when full it starts over (the store holds them all).
final class KeyCache: Sendable {
    private let entries = Mutex<[String: VisitorKey]>([:])
    private let capacity = 10_000

    func keys(for owners: Set<String>) -> [String: VisitorKey] {
        entries.withLock { entries in
            var found: [String: VisitorKey] = [:]
            for owner in owners { if let key = entries[owner] { found[owner] = key } }
            return found
        }
    }

    func add(_ keys: [String: VisitorKey]) {
        entries.withLock { entries in
            if entries.count + keys.count > capacity { entries.removeAll(keepingCapacity: true) }
            entries.merge(keys) { $1 }
        }
    }

    func remove(_ owner: String) {
        _ = entries.withLock { $0.removeValue(forKey: owner) }
    }
}
