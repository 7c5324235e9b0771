import Foundation
import GRDB

/// Something to deliver: a mail or a webhook call.
public enum Delivery: Sendable, Codable, Equatable {
    case mail(MailMessage)
    case webhook(WebhookRequest)

    /// The `kind` column: "mail" or "webhook".
    public var kind: String {
        switch self {
        case .mail: "mail"
        case .webhook: "webhook"
        }
    }

    private enum CodingKeys: String, CodingKey { case kind, mail, webhook }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .kind) {
        case "mail": self = .mail(try container.decode(MailMessage.self, forKey: .mail))
        case "webhook": self = .webhook(try container.decode(WebhookRequest.self, forKey: .webhook))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown delivery kind \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .mail(let message): try container.encode(message, forKey: .mail)
        case .webhook(let request): try container.encode(request, forKey: .webhook)
        }
    }
}

/// Where one delivery stands: "pending", "delivered" or "failed".
public struct DeliveryStatus: Sendable, Equatable {
    public var state: String
    public var attempts: Int
    public var lastError: String?

    public init(state: String, attempts: Int, lastError: String?) {
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
    }
}

/// The durable queue of mails and webhooks (table `deliveries`), written in the same
/// transaction as the state change that causes them, worked off by the `DeliveryWorker`.
public enum DeliveryOutbox {
    /// Append to the service's migrations.
    public static let migration: (name: String, migrate: @Sendable (Database) throws -> Void) = ("archiver-delivery-1", { db in
        try db.create(table: "deliveries") { table in
            table.column("id", .text).primaryKey()
            table.column("kind", .text).notNull()
            table.column("subject", .text)
            table.column("payload", .blob).notNull()
            table.column("status", .text).notNull().defaults(to: "pending")
            table.column("attempts", .integer).notNull().defaults(to: 0)
            table.column("next_attempt_at", .double).notNull()
            table.column("created_at", .double).notNull()
            table.column("last_error", .text)
            table.column("finished_at", .double)
        }
        try db.create(index: "deliveries_due", on: "deliveries", columns: ["status", "next_attempt_at"])
        try db.create(index: "deliveries_subject", on: "deliveries", columns: ["subject"])
    })

    /// Queues `delivery`, due at once. Idempotent by `id`: a replayed event enqueues once.
    /// `subject` names what the delivery is about (e.g. a visitor id) so an erasure can drop it.
    public static func enqueue(_ db: Database, id: String, subject: String?, delivery: Delivery, now: Date) throws {
        let payload = try JSONEncoder().encode(delivery)
        try db.execute(
            sql: """
            INSERT OR IGNORE INTO deliveries (id, kind, subject, payload, status, attempts, next_attempt_at, created_at)
            VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)
            """,
            arguments: [id, delivery.kind, subject, payload, now.timeIntervalSince1970, now.timeIntervalSince1970])
    }

    /// Erasure: drops every delivery about `subject`, whatever its state. Returns how many.
    public static func removeAll(_ db: Database, subject: String) throws -> Int {
        try db.execute(sql: "DELETE FROM deliveries WHERE subject = ?", arguments: [subject])
        return db.changesCount
    }

    public static func status(_ db: Database, id: String) throws -> DeliveryStatus? {
        try Row.fetchOne(db, sql: "SELECT status, attempts, last_error FROM deliveries WHERE id = ?", arguments: [id]).map { row in
            DeliveryStatus(state: row["status"], attempts: row["attempts"], lastError: row["last_error"])
        }
    }

    /// Forgets delivered and failed rows finished before `finishedBefore`.
    public static func prune(_ db: Database, finishedBefore: Date) throws {
        try db.execute(sql: "DELETE FROM deliveries WHERE status IN ('delivered', 'failed') AND finished_at < ?",
                       arguments: [finishedBefore.timeIntervalSince1970])
    }

    // MARK: For the worker

    struct Due: Sendable {
        var id: String
        var kind: String
        var attempts: Int
        /// nil when the stored JSON cannot be read (then the row fails permanently).
        var delivery: Delivery?
    }

    /// Pending rows due at `now`, oldest first.
    static func due(_ db: Database, now: Date, limit: Int) throws -> [Due] {
        try Row.fetchAll(
            db,
            sql: """
            SELECT id, kind, attempts, payload FROM deliveries
            WHERE status = 'pending' AND next_attempt_at <= ?
            ORDER BY created_at, id LIMIT ?
            """,
            arguments: [now.timeIntervalSince1970, limit]
        ).map { row in
            let payload: Data = row["payload"]
            return Due(id: row["id"], kind: row["kind"], attempts: row["attempts"],
                       delivery: try? JSONDecoder().decode(Delivery.self, from: payload))
        }
    }

    static func markDelivered(_ db: Database, id: String, attempts: Int, now: Date) throws {
        try db.execute(sql: "UPDATE deliveries SET status = 'delivered', attempts = ?, last_error = NULL, finished_at = ? WHERE id = ? AND status = 'pending'",
                       arguments: [attempts, now.timeIntervalSince1970, id])
    }

    static func markFailed(_ db: Database, id: String, attempts: Int, error: String, now: Date) throws {
        try db.execute(sql: "UPDATE deliveries SET status = 'failed', attempts = ?, last_error = ?, finished_at = ? WHERE id = ? AND status = 'pending'",
                       arguments: [attempts, error, now.timeIntervalSince1970, id])
    }

    static func markRetry(_ db: Database, id: String, attempts: Int, error: String, nextAttemptAt: Date) throws {
        try db.execute(sql: "UPDATE deliveries SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'",
                       arguments: [attempts, error, nextAttemptAt.timeIntervalSince1970, id])
    }
}
