import Foundation
import GRDB

/// One service's SQLite database: WAL mode, its migrations, and the tables every service
/// needs for at-least-once processing (consumed offsets, processed event ids, outbox).
/// Exactly one service opens a given file.
public final class ServiceStore: Sendable {
    public let database: DatabasePool
    public let path: String

    /// Opens (creating if needed) the database at `path` and runs the shared migrations
    /// followed by `migrations`, the service's own, in order. A migration never changes
    /// once released: later versions append new ones.
    public init(path: String, migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)]) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Deleted rows are overwritten, so an erased visitor's text does not linger in
            // free pages of the file (A6).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("shared-1") { db in
            try db.create(table: "consumer_offsets") { table in
                table.column("topic", .text).notNull()
                table.column("partition", .integer).notNull()
                table.column("next_offset", .integer).notNull()
                table.primaryKey(["topic", "partition"])
            }
            try db.create(table: "processed_events") { table in
                table.column("event_id", .text).primaryKey()
                table.column("processed_at", .double).notNull()
            }
            try db.create(table: "outbox") { table in
                table.autoIncrementedPrimaryKey("sequence")
                table.column("topic", .text).notNull()
                table.column("key", .blob).notNull()
                table.column("partition", .integer)
                table.column("value", .blob).notNull()
            }
        }
        for migration in migrations {
            migrator.registerMigration(migration.name, migrate: migration.migrate)
        }
        try migrator.migrate(database)
    }

    /// Copies the write-ahead log into the database file and empties it, so old page
    /// images (an erased visitor's text among them) leave the disk. Best effort: a reader
    /// in the middle of a transaction makes it wait for the next call.
    public func truncateLog() async {
        _ = try? await database.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }
}

/// Consumed offsets, stored in the same transaction as the state the records changed.
public enum ConsumerOffsets {
    /// Next offset to read for each stored partition of `topics`.
    public static func load(_ db: Database, topics: [String]) throws -> [String: [Int32: Int64]] {
        var result: [String: [Int32: Int64]] = [:]
        let rows = try Row.fetchAll(db, sql: "SELECT topic, partition, next_offset FROM consumer_offsets")
        for row in rows where topics.contains(row["topic"]) {
            result[row["topic"], default: [:]][row["partition"]] = row["next_offset"]
        }
        return result
    }

    public static func store(_ db: Database, topic: String, partition: Int32, nextOffset: Int64) throws {
        try db.execute(
            sql: """
            INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES (?, ?, ?)
            ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset
            """,
            arguments: [topic, partition, nextOffset])
    }
}

/// Ids of events already applied, so a replayed or re-sent event changes nothing.
public enum ProcessedEvents {
    /// Records `eventID`; returns false when it was already there.
    public static func markNew(_ db: Database, eventID: String, at time: Date = Date()) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO processed_events (event_id, processed_at) VALUES (?, ?)",
                       arguments: [eventID, time.timeIntervalSince1970])
        return db.changesCount == 1
    }

    /// Forgets ids older than `age`: duplicates arrive within seconds of the original
    /// (a producer retry, an outbox re-send after a crash), never days later.
    public static func prune(_ db: Database, olderThan age: TimeInterval, now: Date = Date()) throws {
        try db.execute(sql: "DELETE FROM processed_events WHERE processed_at < ?", arguments: [now.timeIntervalSince1970 - age])
    }
}

/// Records to publish, written in the same transaction as the state change that caused
/// them and published afterwards (transactional outbox).
public enum Outbox {
    public struct Entry: Sendable, Equatable {
        public var sequence: Int64
        public var topic: String
        public var key: [UInt8]
        public var partition: Int32?
        public var value: [UInt8]
    }

    public static func append(_ db: Database, topic: String, key: [UInt8], partition: Int32?, value: [UInt8]) throws {
        try db.execute(sql: "INSERT INTO outbox (topic, key, partition, value) VALUES (?, ?, ?, ?)",
                       arguments: [topic, Data(key), partition, Data(value)])
    }

    /// The oldest `limit` entries, in the order they were appended.
    public static func next(_ db: Database, limit: Int) throws -> [Entry] {
        try Row.fetchAll(db, sql: "SELECT sequence, topic, key, partition, value FROM outbox ORDER BY sequence LIMIT ?", arguments: [limit]).map { row in
            Entry(sequence: row["sequence"], topic: row["topic"], key: Array(row["key"] as Data), partition: row["partition"], value: Array(row["value"] as Data))
        }
    }

    public static func remove(_ db: Database, through sequence: Int64) throws {
        try db.execute(sql: "DELETE FROM outbox WHERE sequence <= ?", arguments: [sequence])
    }

    public static func count(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0
    }

    /// Drops entries that must never be published (e.g. stale work of a router that lost
    /// its partitions while it was down).
    public static func remove(_ db: Database, sequences: [Int64]) throws {
        for sequence in sequences {
            try db.execute(sql: "DELETE FROM outbox WHERE sequence = ?", arguments: [sequence])
        }
    }
}
