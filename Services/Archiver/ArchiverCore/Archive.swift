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
    ]

    /// Files one conversation event. Idempotent: a replay changes nothing.
    static func record(_ envelope: Envelope, in db: Database) throws {
        let time = envelope.occurredAt.timeIntervalSince1970
        switch envelope.event {
        case .chatQueued(let queued):
            try db.execute(
                sql: "INSERT OR IGNORE INTO chats (id, department_id, visitor_id, visitor_name, queued_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [queued.chatId, queued.departmentId, queued.visitor.id, queued.visitor.displayName, queued.queuedAt.timeIntervalSince1970])
        case .chatAssigned(let assigned):
            try addAgent(assigned.agent, to: assigned.chatId, at: time, in: db)
        case .chatAgentInvited(let invited):
            try addAgent(invited.agent, to: invited.chatId, at: time, in: db)
        case .chatTransferred(let transfer):
            if let agent = transfer.toAgent {
                try addAgent(agent, to: transfer.chatId, at: time, in: db)
            }
        case .chatClosed(let closed):
            try db.execute(sql: "UPDATE chats SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL",
                           arguments: [time, closed.closedBy.id, closed.chatId])
        case .messagePosted(let message):
            try db.execute(
                sql: """
                INSERT OR IGNORE INTO messages (chat_id, message_id, sender_role, sender_id, sender_name, text, sent_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                arguments: [message.chatId, message.messageId, message.sender.role.rawValue, message.sender.id, message.sender.displayName, message.text, time])
        default:
            break
        }
    }

    /// Records that `agent` took part in the chat (assigned, transferred to, invited).
    private static func addAgent(_ agent: Participant, to chatId: String, at time: Double, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO chat_agents (chat_id, agent_id, display_name, joined_at) SELECT id, ?, ?, ? FROM chats WHERE id = ?",
            arguments: [agent.id, agent.displayName, time, chatId])
    }

    /// The transcript of `chatId`, or nil when the archive holds no such chat.
    public static func transcript(_ db: Database, chatId: String) throws -> Transcript? {
        guard let chat = try Row.fetchOne(db, sql: "SELECT * FROM chats WHERE id = ?", arguments: [chatId]) else { return nil }
        let agents = try Row.fetchAll(db, sql: "SELECT agent_id, display_name FROM chat_agents WHERE chat_id = ? ORDER BY joined_at", arguments: [chatId]).map {
            Participant(role: .agent, id: $0["agent_id"], displayName: $0["display_name"])
        }
        let messages = try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE chat_id = ? ORDER BY sequence", arguments: [chatId]).map { row in
            Transcript.Message(
                messageId: row["message_id"],
                sender: Participant(role: Participant.Role(rawValue: row["sender_role"]) ?? .system, id: row["sender_id"], displayName: row["sender_name"]),
                text: row["text"],
                sentAt: Date(timeIntervalSince1970: row["sent_at"]))
        }
        return Transcript(
            chatId: chatId, departmentId: chat["department_id"],
            visitor: Participant(role: .visitor, id: chat["visitor_id"], displayName: chat["visitor_name"]),
            agents: agents,
            queuedAt: Date(timeIntervalSince1970: chat["queued_at"]),
            closedAt: (chat["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            messages: messages)
    }
}
