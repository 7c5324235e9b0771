import ChatStore
import ChatWire
import Foundation
import GRDB

/// The router's own tables in its store.
enum RouterStore {
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("router-1", { db in
            try db.create(table: "chats") { table in
                table.column("id", .text).primaryKey()
                table.column("department_id", .text).notNull()
                table.column("visitor_id", .text).notNull()
                table.column("visitor_name", .text).notNull()
                table.column("status", .text).notNull()
                table.column("agent_id", .text)
                table.column("agent_name", .text)
                table.column("queued_at", .double).notNull()
            }
            try db.create(index: "chats_open", on: "chats", columns: ["status"])
            try db.create(table: "departments") { table in
                table.column("id", .text).primaryKey()
                table.column("open", .boolean).notNull()
            }
        }),
        ("router-2", { db in
            try db.create(table: "agents") { table in
                table.column("id", .text).primaryKey()
                table.column("display_name", .text).notNull()
                table.column("department_ids", .text).notNull()
                table.column("taking_chats", .boolean).notNull()
            }
        }),
        ("router-3", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "handled_seconds", .double).notNull().defaults(to: 0)
                table.add(column: "active_since", .double)
            }
        }),
        ("router-4", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "invited", .text).notNull().defaults(to: "[]")
            }
        }),
        ("router-5", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "offered_to_id", .text)
                table.add(column: "offered_to_name", .text)
                table.add(column: "offer_expires_at", .double)
                table.add(column: "passed_by", .text).notNull().defaults(to: "[]")
            }
        }),
        ("router-6", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "wrap_up_seconds", .double).notNull().defaults(to: 0)
                table.add(column: "wrap_up_since", .double)
            }
        }),
    ]

    static func loadState(_ db: Database, policy: RoutingPolicy) throws -> RouterState {
        let chats = try Row.fetchAll(db, sql: "SELECT * FROM chats WHERE status IN ('queued', 'offered', 'assigned', 'parked', 'wrapup')").map { row -> RoutedChat in
            let agentId: String? = row["agent_id"]
            let offeredId: String? = row["offered_to_id"]
            var chat = RoutedChat(
                id: row["id"], departmentId: row["department_id"],
                visitor: Participant(role: .visitor, id: row["visitor_id"], displayName: row["visitor_name"]),
                status: RoutedChat.Status(rawValue: row["status"]) ?? .queued,
                agent: agentId.map { Participant(role: .agent, id: $0, displayName: row["agent_name"] ?? $0) },
                queuedAt: Date(timeIntervalSince1970: row["queued_at"]),
                handledSeconds: row["handled_seconds"],
                activeSince: (row["active_since"] as Double?).map(Date.init(timeIntervalSince1970:)),
                invited: (try? JSONDecoder().decode([Participant].self, from: Data((row["invited"] as String).utf8))) ?? [])
            chat.offeredTo = offeredId.map { Participant(role: .agent, id: $0, displayName: row["offered_to_name"] ?? $0) }
            chat.offerExpiresAt = (row["offer_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:))
            chat.wrapUpSeconds = row["wrap_up_seconds"]
            chat.wrapUpSince = (row["wrap_up_since"] as Double?).map(Date.init(timeIntervalSince1970:))
            chat.passedBy = Set((try? JSONDecoder().decode([String].self, from: Data((row["passed_by"] as String).utf8))) ?? [])
            return chat
        }
        let open = try String.fetchAll(db, sql: "SELECT id FROM departments WHERE open")
        let agents = try Row.fetchAll(db, sql: "SELECT * FROM agents").map { row in
            RoutingAgent(id: row["id"], displayName: row["display_name"],
                         departmentIds: (row["department_ids"] as String).split(separator: ",").map(String.init),
                         takingChats: row["taking_chats"])
        }
        return RouterState(openChats: chats, openDepartments: Set(open), agents: agents, policy: policy)
    }

    static func isClosed(_ db: Database, chatId: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM chats WHERE id = ? AND status = 'closed'", arguments: [chatId]) ?? false
    }

    static func apply(_ action: RouterAction, in db: Database) throws {
        switch action {
        case .saveChat(let chat):
            try db.execute(
                sql: """
                INSERT INTO chats (id, department_id, visitor_id, visitor_name, status, agent_id, agent_name, queued_at, handled_seconds,
                    active_since, invited, offered_to_id, offered_to_name, offer_expires_at, passed_by, wrap_up_seconds, wrap_up_since)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET department_id = excluded.department_id, status = excluded.status,
                    agent_id = excluded.agent_id, agent_name = excluded.agent_name,
                    handled_seconds = excluded.handled_seconds, active_since = excluded.active_since, invited = excluded.invited,
                    offered_to_id = excluded.offered_to_id, offered_to_name = excluded.offered_to_name,
                    offer_expires_at = excluded.offer_expires_at, passed_by = excluded.passed_by,
                    wrap_up_seconds = excluded.wrap_up_seconds, wrap_up_since = excluded.wrap_up_since
                """,
                arguments: [chat.id, chat.departmentId, chat.visitor.id, chat.visitor.displayName, chat.status.rawValue,
                            chat.agent?.id, chat.agent?.displayName, chat.queuedAt.timeIntervalSince1970,
                            chat.handledSeconds, chat.activeSince?.timeIntervalSince1970,
                            String(decoding: try JSONEncoder().encode(chat.invited), as: UTF8.self),
                            chat.offeredTo?.id, chat.offeredTo?.displayName, chat.offerExpiresAt?.timeIntervalSince1970,
                            String(decoding: try JSONEncoder().encode(chat.passedBy.sorted()), as: UTF8.self),
                            chat.wrapUpSeconds, chat.wrapUpSince?.timeIntervalSince1970])
        case .saveDepartment(let id, let open):
            try db.execute(sql: "INSERT INTO departments (id, open) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET open = excluded.open",
                           arguments: [id, open])
        case .saveAgent(let agent):
            try db.execute(
                sql: """
                INSERT INTO agents (id, display_name, department_ids, taking_chats) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, department_ids = excluded.department_ids,
                    taking_chats = excluded.taking_chats
                """,
                arguments: [agent.id, agent.displayName, agent.departmentIds.joined(separator: ","), agent.takingChats])
        case .publish(let record):
            try record.appendToOutbox(db)
        }
    }
}
