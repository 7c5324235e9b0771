import ArchiverDelivery
import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB

/// The archiver's tables: every chat with its story and full transcript.
public enum Archive {
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("archiver-1", { db in
            try db.create(table: "chats") { table in
                table.column("id", .text).primaryKey()
                table.column("department_id", .text).notNull()
                table.column("visitor_id", .text).notNull()
                table.column("visitor_name", .text).notNull()
                table.column("queued_at", .double).notNull()
                table.column("closed_at", .double)
                table.column("closed_by", .text)
            }
            try db.create(table: "chat_agents") { table in
                table.column("chat_id", .text).notNull().references("chats", onDelete: .cascade)
                table.column("agent_id", .text).notNull()
                table.column("display_name", .text).notNull()
                table.column("joined_at", .double).notNull()
                table.primaryKey(["chat_id", "agent_id"])
            }
            try db.create(table: "messages") { table in
                table.autoIncrementedPrimaryKey("sequence")
                table.column("chat_id", .text).notNull()
                table.column("message_id", .text).notNull()
                table.column("sender_role", .text).notNull()
                table.column("sender_id", .text).notNull()
                table.column("sender_name", .text).notNull()
                table.column("text", .text).notNull()
                table.column("sent_at", .double).notNull()
                table.uniqueKey(["chat_id", "message_id"])
            }
        }),
        ("archiver-2", { db in
            // Chats filed before this version have partition -1 until re-read; they are
            // still answered for transcripts (by id), not listed.
            try db.alter(table: "chats") { table in
                table.add(column: "partition", .integer).notNull().defaults(to: -1)
                table.add(column: "contact_email", .text)
                table.add(column: "first_assigned_at", .double)
                table.add(column: "closed_by_role", .text)
                table.add(column: "closed_by_name", .text)
                table.add(column: "closed_reason", .text)
            }
            try db.create(index: "chats_by_partition", on: "chats", columns: ["partition", "queued_at", "id"])
            try db.create(index: "chats_by_visitor", on: "chats", columns: ["visitor_id"])
            try db.create(index: "chats_by_closing", on: "chats", columns: ["closed_at"])
            try db.create(table: "chat_story") { table in
                table.autoIncrementedPrimaryKey("step")
                table.column("chat_id", .text).notNull().references("chats", onDelete: .cascade)
                table.column("type", .text).notNull()
                table.column("at", .double).notNull()
                table.column("agent_id", .text)
                table.column("agent_name", .text)
                table.column("department_id", .text)
                table.column("detail", .text)
            }
            try db.create(index: "chat_story_by_chat", on: "chat_story", columns: ["chat_id"])
            try db.create(table: "department_settings") { table in
                table.column("department_id", .text).primaryKey()
                table.column("retention_days", .integer)
            }
        }),
        // The visitor's pre-chat answers (A3), JSON, and contact name (E2).
        ("archiver-3", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "pre_chat", .text)
                table.add(column: "visitor_contact", .text)
            }
            // Queue times in whole milliseconds, as cursors carry them (`archiveTime`).
            try db.execute(sql: "UPDATE chats SET queued_at = ROUND(queued_at * 1000) / 1000.0")
        }),
    ]

    // MARK: Filing

    /// A queue time as the archive orders by it: whole milliseconds, the precision of the wire
    /// and of cursors. A cursor that went through JSON then matches its row exactly, so a
    /// page boundary neither repeats nor skips a chat.
    static func archiveTime(_ date: Date) -> Double {
        WireTime.wirePrecision(date).timeIntervalSince1970
    }

    /// The archiver's store, migrated.
    public static func openStore(path: String) throws -> ServiceStore {
        try ServiceStore(path: path, migrations: migrations + [DeliveryOutbox.migration, VisitorKeyring.migration])
    }

    /// Files many conversation events in one transaction, as the consumer would one by one;
    /// for tools that fill an archive (the export benchmark).
    public static func record(_ events: [(envelope: Envelope, partition: Int32)], in store: ServiceStore) async throws {
        try await store.database.write { db in
            for (envelope, partition) in events { try record(envelope, partition: partition, in: db) }
        }
    }

    /// Files one conversation event of partition `partition`. Idempotent: the consumer skips
    /// an event id it applied before, and the inserts ignore what exists.
    static func record(_ envelope: Envelope, partition: Int32, in db: Database) throws {
        let time = envelope.occurredAt
        switch envelope.event {
        case .chatQueued(let queued):
            try db.execute(
                sql: """
                INSERT OR IGNORE INTO chats (id, department_id, visitor_id, visitor_name, queued_at, partition, contact_email, pre_chat, visitor_contact)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                arguments: [queued.chatId, queued.departmentId, queued.visitor.id, queued.visitor.displayName, archiveTime(queued.queuedAt),
                            partition, queued.contactEmail, queued.preChat.flatMap { try? String(decoding: WireCodec.encodeValue($0), as: UTF8.self) },
                            queued.contact])
            // A transferred chat is queued again in its new department.
            try db.execute(sql: "UPDATE chats SET department_id = ? WHERE id = ?", arguments: [queued.departmentId, queued.chatId])
            try addStep(queued.chatId, "chat.queued", at: time, departmentId: queued.departmentId, in: db)
        case .chatAssigned(let assigned):
            try addAgent(assigned.agent, to: assigned.chatId, at: time, in: db)
            try db.execute(sql: "UPDATE chats SET first_assigned_at = ? WHERE id = ? AND first_assigned_at IS NULL",
                           arguments: [time.timeIntervalSince1970, assigned.chatId])
            try addStep(assigned.chatId, "chat.assigned", at: time, agent: assigned.agent, departmentId: assigned.departmentId, detail: assigned.reason.rawValue, in: db)
        case .chatAgentInvited(let invited):
            try addAgent(invited.agent, to: invited.chatId, at: time, in: db)
            try addStep(invited.chatId, "chat.agent_invited", at: time, agent: invited.agent, departmentId: invited.departmentId,
                        detail: "by \(invited.invitedBy.displayName)", in: db)
        case .chatTransferred(let transfer):
            if let agent = transfer.toAgent {
                try addAgent(agent, to: transfer.chatId, at: time, in: db)
            }
            try addStep(transfer.chatId, "chat.transferred", at: time, agent: transfer.toAgent ?? transfer.previousAgent,
                        departmentId: transfer.toDepartmentId, detail: "from \(transfer.fromDepartmentId) (\(transfer.previousAgent.displayName))", in: db)
        case .chatRequeued(let requeued):
            try addStep(requeued.chatId, "chat.requeued", at: time, agent: requeued.previousAgent, departmentId: requeued.departmentId,
                        detail: requeued.reason.rawValue, in: db)
        case .chatParked(let change), .chatUnparked(let change):
            try addStep(change.chatId, envelope.event.type.rawValue, at: time, agent: change.agent, departmentId: change.departmentId,
                        detail: change.reason, in: db)
        case .chatWrapUpStarted(let change), .chatWrapUpFinished(let change):
            try addStep(change.chatId, envelope.event.type.rawValue, at: time, agent: change.agent, departmentId: change.departmentId,
                        detail: envelope.event.type == .chatWrapUpFinished ? String(format: "%.0f s", change.wrapUpSeconds) : nil, in: db)
        case .chatClosed(let closed):
            try db.execute(
                sql: """
                UPDATE chats SET closed_at = ?, closed_by = ?, closed_by_role = ?, closed_by_name = ?, closed_reason = ?
                WHERE id = ? AND closed_at IS NULL
                """,
                arguments: [time.timeIntervalSince1970, closed.closedBy.id, closed.closedBy.role.rawValue, closed.closedBy.displayName,
                            closed.reason?.rawValue, closed.chatId])
            try addStep(closed.chatId, "chat.closed", at: time, agent: closed.closedBy.role == .agent ? closed.closedBy : nil,
                        departmentId: closed.departmentId, detail: closed.reason?.rawValue ?? "by \(closed.closedBy.role.rawValue)", in: db)
        case .messagePosted(let message):
            // Only messages of a chat the archive holds: one deleted or erased stays gone.
            try db.execute(
                sql: """
                INSERT OR IGNORE INTO messages (chat_id, message_id, sender_role, sender_id, sender_name, text, sent_at)
                SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chats WHERE id = ?)
                """,
                arguments: [message.chatId, message.messageId, message.sender.role.rawValue, message.sender.id, message.sender.displayName,
                            message.text, time.timeIntervalSince1970, message.chatId])
        default:
            break
        }
    }

    /// Records that `agent` took part in the chat (assigned, transferred to, invited).
    private static func addAgent(_ agent: Participant, to chatId: String, at time: Date, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO chat_agents (chat_id, agent_id, display_name, joined_at) SELECT id, ?, ?, ? FROM chats WHERE id = ?",
            arguments: [agent.id, agent.displayName, time.timeIntervalSince1970, chatId])
    }

    private static func addStep(_ chatId: String, _ type: String, at time: Date, agent: Participant? = nil, departmentId: String? = nil,
                                detail: String? = nil, in db: Database) throws {
        try db.execute(
            sql: """
            INSERT INTO chat_story (chat_id, type, at, agent_id, agent_name, department_id, detail)
            SELECT id, ?, ?, ?, ?, ?, ? FROM chats WHERE id = ?
            """,
            arguments: [type, time.timeIntervalSince1970, agent?.id, agent?.displayName, departmentId, detail, chatId])
    }

    // MARK: Reading

    /// The transcript of `chatId`, or nil when the archive holds no such chat.
    public static func transcript(_ db: Database, chatId: String) throws -> Transcript? {
        guard let chat = try Row.fetchOne(db, sql: "SELECT * FROM chats WHERE id = ?", arguments: [chatId]) else { return nil }
        return Transcript(
            chatId: chatId, departmentId: chat["department_id"],
            visitor: Participant(role: .visitor, id: chat["visitor_id"], displayName: chat["visitor_name"]),
            agents: try agents(db, chatId: chatId),
            queuedAt: Date(timeIntervalSince1970: chat["queued_at"]),
            closedAt: (chat["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            messages: try messages(db, chatId: chatId))
    }

    static func agents(_ db: Database, chatId: String) throws -> [Participant] {
        try Row.fetchAll(db, sql: "SELECT agent_id, display_name FROM chat_agents WHERE chat_id = ? ORDER BY joined_at", arguments: [chatId]).map {
            Participant(role: .agent, id: $0["agent_id"], displayName: $0["display_name"])
        }
    }

    static func messages(_ db: Database, chatId: String) throws -> [Transcript.Message] {
        try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE chat_id = ? ORDER BY sequence", arguments: [chatId]).map { row in
            Transcript.Message(
                messageId: row["message_id"],
                sender: Participant(role: Participant.Role(rawValue: row["sender_role"]) ?? .system, id: row["sender_id"], displayName: row["sender_name"]),
                text: row["text"],
                sentAt: Date(timeIntervalSince1970: row["sent_at"]))
        }
    }

    static func story(_ db: Database, chatId: String) throws -> [ArchiveStoryEntry] {
        try Row.fetchAll(db, sql: "SELECT * FROM chat_story WHERE chat_id = ? ORDER BY step", arguments: [chatId]).map { row in
            let agent = (row["agent_id"] as String?).map { Participant(role: .agent, id: $0, displayName: row["agent_name"] ?? $0) }
            return ArchiveStoryEntry(type: row["type"], at: Date(timeIntervalSince1970: row["at"]), agent: agent,
                                     departmentId: row["department_id"], detail: row["detail"])
        }
    }

    /// One chat as lists show it; with its story and messages when `full`.
    static func archivedChat(_ row: Row, full: Bool, in db: Database) throws -> ArchivedChat {
        let chatId: String = row["id"]
        let closedBy = (row["closed_by"] as String?).map { id in
            Participant(role: Participant.Role(rawValue: row["closed_by_role"] ?? "") ?? .system, id: id, displayName: row["closed_by_name"] ?? id)
        }
        let messages = full ? try messages(db, chatId: chatId) : nil
        let count = try messages?.count ?? Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE chat_id = ?", arguments: [chatId]) ?? 0
        return ArchivedChat(
            chatId: chatId, departmentId: row["department_id"],
            visitor: Participant(role: .visitor, id: row["visitor_id"], displayName: row["visitor_name"]),
            contact: row["visitor_contact"], contactEmail: row["contact_email"], agents: try agents(db, chatId: chatId),
            queuedAt: Date(timeIntervalSince1970: row["queued_at"]),
            firstAssignedAt: (row["first_assigned_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            closedAt: (row["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            closedBy: closedBy, closedReason: row["closed_reason"], messageCount: count,
            preChat: (row["pre_chat"] as String?).flatMap { try? WireCodec.decodeValue(PreChatAnswers.self, from: Data($0.utf8)) },
            story: full ? try story(db, chatId: chatId) : nil, messages: messages)
    }

    /// One chat with its story and messages, or nil.
    static func archivedChat(_ db: Database, chatId: String) throws -> ArchivedChat? {
        try Row.fetchOne(db, sql: "SELECT * FROM chats WHERE id = ?", arguments: [chatId]).map { try archivedChat($0, full: true, in: db) }
    }

    /// Most bytes of message text one answer carries; a page stops before it would pass it
    /// (but always holds at least one chat), so answers stay well under Kafka's 1 MB.
    static let pageTextBudget = 256 * 1024
    /// Most chats one answer carries.
    static let pageLimit = 500

    /// A page of `request.partition`'s chats matching the filter, in archive order.
    static func search(_ request: ArchiveSearchRequested, in db: Database) throws -> ArchiveSearchAnswered {
        var conditions = ["partition = ?"]
        var arguments: [any DatabaseValueConvertible] = [request.partition]
        let filter = request.filter
        if let departments = filter.departmentIds {
            guard !departments.isEmpty else {
                return ArchiveSearchAnswered(replyTo: request.replyTo, partition: request.partition, chats: [], next: nil, total: request.countTotal ? 0 : nil)
            }
            conditions.append("department_id IN (\(departments.map { _ in "?" }.joined(separator: ",")))")
            arguments += departments
        }
        if let agentId = filter.agentId {
            conditions.append("EXISTS (SELECT 1 FROM chat_agents WHERE chat_agents.chat_id = chats.id AND agent_id = ?)")
            arguments.append(agentId)
        }
        if let visitorId = filter.visitorId {
            conditions.append("visitor_id = ?")
            arguments.append(visitorId)
        }
        if let chatId = filter.chatId {
            conditions.append("id = ?")
            arguments.append(chatId)
        }
        if let name = filter.name?.trimmingCharacters(in: .whitespaces), !name.isEmpty {
            let pattern = "%" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            conditions.append("(visitor_name LIKE ? ESCAPE '\\' OR visitor_contact LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')")
            arguments += [pattern, pattern, pattern]
        }
        if let from = filter.from {
            conditions.append("queued_at >= ?")
            arguments.append(from.timeIntervalSince1970)
        }
        if let to = filter.to {
            conditions.append("queued_at < ?")
            arguments.append(to.timeIntervalSince1970)
        }
        if filter.closedOnly { conditions.append("closed_at IS NOT NULL") }
        let total = request.countTotal
            ? try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chats WHERE \(conditions.joined(separator: " AND "))", arguments: StatementArguments(arguments))
            : nil
        if let after = request.after {
            conditions.append(request.newestFirst ? "(queued_at, id) < (?, ?)" : "(queued_at, id) > (?, ?)")
            arguments += [archiveTime(after.queuedAt), after.chatId]
        }
        let direction = request.newestFirst ? "DESC" : "ASC"
        let limit = min(max(request.limit, 1), pageLimit)
        let rows = try Row.fetchCursor(
            db, sql: "SELECT * FROM chats WHERE \(conditions.joined(separator: " AND ")) ORDER BY queued_at \(direction), id \(direction) LIMIT ?",
            arguments: StatementArguments(arguments + [limit + 1]))
        var chats: [ArchivedChat] = []
        var textBytes = 0
        var more = false
        while let row = try rows.next() {
            if chats.count == limit || (!chats.isEmpty && textBytes >= pageTextBudget) {
                more = true
                break
            }
            let chat = try archivedChat(row, full: request.includeTranscripts, in: db)
            textBytes += chat.messages?.reduce(0) { $0 + $1.text.utf8.count + 200 } ?? 0
            chats.append(chat)
        }
        return ArchiveSearchAnswered(replyTo: request.replyTo, partition: request.partition, chats: chats, next: more ? chats.last?.cursor : nil, total: total)
    }

    // MARK: Deleting

    /// Deletes one chat and everything filed about it.
    static func delete(chatId: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM messages WHERE chat_id = ?", arguments: [chatId])
        try db.execute(sql: "DELETE FROM chats WHERE id = ?", arguments: [chatId])
    }

    /// E4: the closed chats (of `partition` and these departments, if given) closed before
    /// `closedBefore`, if given.
    static func closedChats(_ db: Database, partition: Int32?, departmentIds: [String]?, closedBefore: Date? = nil) throws -> [(id: String, departmentId: String)] {
        var conditions = ["closed_at IS NOT NULL"]
        var arguments: [any DatabaseValueConvertible] = []
        if let partition {
            conditions.append("partition = ?")
            arguments.append(partition)
        }
        if let departments = departmentIds {
            conditions.append("department_id IN (\(departments.map { _ in "?" }.joined(separator: ",")))")
            arguments += departments
        }
        if let closedBefore {
            conditions.append("closed_at < ?")
            arguments.append(closedBefore.timeIntervalSince1970)
        }
        return try Row.fetchAll(db, sql: "SELECT id, department_id FROM chats WHERE \(conditions.joined(separator: " AND "))",
                                arguments: StatementArguments(arguments)).map { ($0["id"], $0["department_id"]) }
    }

    static func chatStatus(_ db: Database, chatId: String) throws -> (departmentId: String, closed: Bool)? {
        try Row.fetchOne(db, sql: "SELECT department_id, closed_at FROM chats WHERE id = ?", arguments: [chatId]).map {
            ($0["department_id"], ($0["closed_at"] as Double?) != nil)
        }
    }

    /// A6: every chat of the visitor in `partition`.
    static func chatsOfVisitor(_ db: Database, visitorId: String, partition: Int32) throws -> [(id: String, departmentId: String)] {
        try Row.fetchAll(db, sql: "SELECT id, department_id FROM chats WHERE visitor_id = ? AND partition = ?", arguments: [visitorId, partition])
            .map { ($0["id"], $0["department_id"]) }
    }

    // MARK: Retention

    static func saveSettings(_ settings: DepartmentSettingsUpdated, in db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO department_settings (department_id, retention_days) VALUES (?, ?)",
                       arguments: [settings.departmentId, settings.retentionDays])
    }

    /// Department id → days, for departments that keep closed chats a limited time.
    static func retentionDays(_ db: Database) throws -> [String: Int] {
        var days: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT department_id, retention_days FROM department_settings WHERE retention_days IS NOT NULL") {
            days[row["department_id"]] = row["retention_days"]
        }
        return days
    }

    /// Departments that have chats in the archive, for a default retention.
    static func archivedDepartments(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT DISTINCT department_id FROM chats")
    }
}
