import ChatStore
import ChatWire
import Foundation
import GRDB

/// What the gateway must do once a batch of events is committed to its store.
enum GatewayEffect: Sendable {
    /// `change` says what happened, in words a widget can map to a sentence.
    case chatChanged(ChatView, change: String)
    /// A waiting chat's place or estimate changed: its visitor is told.
    case queuePositionChanged(ChatView)
    /// A department's overview changed: its agents are told.
    case overviewChanged(QueueOverview)
    /// Every agent taking part (owner and invited) and the visitor get it.
    case messageStored(chatId: String, agentIds: [String], visitorId: String)
    case departmentChanged(DepartmentView)
    /// An event that answers a request this or another gateway is waiting for.
    case reply(causationId: String, Envelope)
    /// An agent's presence changed: agents sharing a department see it in the people view.
    case agentChanged(AgentView)
    /// Someone is typing (or stopped): the chat's other participants are told.
    case typing(ChatTyping, agentIds: [String], visitorId: String)
    /// An account changed: sockets of sessions it no longer accepts close; admins see it.
    case accountChanged(AccountUpdated)
}

/// The gateway's own store: its view of chats, messages, agents and departments, built
/// from the topics it reads. It answers HTTP reads and WebSocket catch-ups without asking
/// other services.
enum GatewayStore {
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("gateway-1", { db in
            try db.create(table: "chats") { table in
                table.column("id", .text).primaryKey()
                table.column("department_id", .text).notNull()
                table.column("visitor_id", .text).notNull()
                table.column("visitor_name", .text).notNull()
                table.column("status", .text).notNull()
                table.column("agent_id", .text)
                table.column("agent_name", .text)
                table.column("queued_at", .double).notNull()
                table.column("closed_at", .double)
            }
            try db.create(index: "chats_by_department", on: "chats", columns: ["department_id", "status", "queued_at"])
            try db.create(index: "chats_by_visitor", on: "chats", columns: ["visitor_id"])
            try db.create(table: "messages") { table in
                table.column("chat_id", .text).notNull()
                table.column("seq", .integer).notNull()
                table.column("message_id", .text).notNull()
                table.column("sender_role", .text).notNull()
                table.column("sender_id", .text).notNull()
                table.column("sender_name", .text).notNull()
                table.column("text", .text).notNull()
                table.column("sent_at", .double).notNull()
                table.primaryKey(["chat_id", "seq"])
                table.uniqueKey(["chat_id", "message_id"])
            }
            try db.create(table: "agents") { table in
                table.column("id", .text).primaryKey()
                table.column("display_name", .text).notNull()
                table.column("department_ids", .text).notNull()
                table.column("status", .text).notNull()
                table.column("available", .boolean).notNull()
            }
            try db.create(table: "departments") { table in
                table.column("id", .text).primaryKey()
                table.column("display_name", .text).notNull()
                table.column("open", .boolean).notNull()
                table.column("available_agents", .integer).notNull()
            }
        }),
        ("gateway-2", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "assigned_at", .double)
                table.add(column: "handled_seconds", .double).notNull().defaults(to: 0)
                table.add(column: "active_since", .double)
            }
        }),
        ("gateway-3", { db in
            try db.create(table: "chat_participants") { table in
                table.column("chat_id", .text).notNull()
                table.column("agent_id", .text).notNull()
                table.column("display_name", .text).notNull()
                table.primaryKey(["chat_id", "agent_id"])
            }
        }),
        ("gateway-4", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "offered_to_id", .text)
                table.add(column: "offered_to_name", .text)
                table.add(column: "offer_expires_at", .double)
            }
        }),
        ("gateway-5", { db in
            try db.alter(table: "agents") { $0.add(column: "busy", .boolean).notNull().defaults(to: false) }
        }),
        ("gateway-6", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "wrap_up_state", .text)
                table.add(column: "wrap_up_seconds", .double).notNull().defaults(to: 0)
                table.add(column: "wrap_up_since", .double)
            }
        }),
        ("gateway-7", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "closed_by_role", .text)
                table.add(column: "closed_by_id", .text)
                table.add(column: "closed_by_name", .text)
            }
        }),
        ("gateway-8", { db in
            // NULL: logged in to every queue of the agent's departments.
            try db.alter(table: "agents") { $0.add(column: "queues", .text) }
        }),
        ("gateway-9", { db in
            try db.alter(table: "chats") { $0.add(column: "contact_email", .text) }
        }),
        // The account directory (`accounts.directory`): sign-in and session checks.
        ("gateway-10", { db in
            try db.create(table: "accounts") { table in
                table.column("id", .text).primaryKey()
                table.column("registration_id", .text).notNull().indexed()
                table.column("record", .text).notNull()
            }
        }),
        // Admin settings per department (`departments.settings`).
        ("gateway-11", { db in
            try db.create(table: "department_settings") { table in
                table.column("department_id", .text).primaryKey()
                table.column("record", .text).notNull()
            }
        }),
        // The visitor's pre-chat answers (A3), JSON.
        ("gateway-12", { db in
            try db.alter(table: "chats") { table in
                table.add(column: "pre_chat", .text)
                table.add(column: "visitor_contact", .text)
            }
        }),
    ]

    // MARK: Applying events

    static func apply(_ envelope: Envelope, in db: Database) throws -> [GatewayEffect] {
        var effects: [GatewayEffect] = []
        let time = envelope.occurredAt.timeIntervalSince1970
        var changed: (chatId: String, change: String, departments: Set<String>)?
        var overviewDepartments: Set<String> = []
        switch envelope.event {
        case .chatQueued(let queued):
            try db.execute(
                sql: """
                INSERT INTO chats (id, department_id, visitor_id, visitor_name, status, queued_at, contact_email, pre_chat, visitor_contact)
                VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET department_id = excluded.department_id, status = 'queued', agent_id = NULL, agent_name = NULL
                WHERE chats.status = 'transferring'
                """,
                arguments: [queued.chatId, queued.departmentId, queued.visitor.id, queued.visitor.displayName, queued.queuedAt.timeIntervalSince1970,
                            queued.contactEmail, queued.preChat.map { APIJSON.string($0) }, queued.contact])
            changed = (queued.chatId, "queued", [queued.departmentId])
        case .chatAssigned(let assigned):
            try db.execute(sql: """
                UPDATE chats SET status = 'assigned', agent_id = ?, agent_name = ?, assigned_at = ?, active_since = ?,
                    offered_to_id = NULL, offered_to_name = NULL, offer_expires_at = NULL
                WHERE id = ? AND status IN ('queued', 'offered')
                """, arguments: [assigned.agent.id, assigned.agent.displayName, time, time, assigned.chatId])
            changed = (assigned.chatId, "assigned", [assigned.departmentId])
        case .chatRequeued(let requeued):
            try db.execute(sql: """
                UPDATE chats SET status = 'queued', agent_id = NULL, agent_name = NULL,
                    handled_seconds = handled_seconds + CASE WHEN active_since IS NULL THEN 0 ELSE MAX(0, ? - active_since) END,
                    active_since = NULL
                WHERE id = ? AND status IN ('assigned', 'parked')
                """, arguments: [time, requeued.chatId])
            try db.execute(sql: "DELETE FROM chat_participants WHERE chat_id = ?", arguments: [requeued.chatId])
            changed = (requeued.chatId, requeued.reason == .returnedByAgent ? "returned_to_queue" : "agent_offline", [requeued.departmentId])
        case .chatOffered(let offer):
            try db.execute(sql: """
                UPDATE chats SET status = 'offered', offered_to_id = ?, offered_to_name = ?, offer_expires_at = ? WHERE id = ? AND status = 'queued'
                """, arguments: [offer.agent.id, offer.agent.displayName, offer.expiresAt.timeIntervalSince1970, offer.chatId])
            changed = (offer.chatId, "offered", [offer.departmentId])
        case .chatOfferWithdrawn(let withdrawn):
            try db.execute(sql: """
                UPDATE chats SET status = 'queued', offered_to_id = NULL, offered_to_name = NULL, offer_expires_at = NULL
                WHERE id = ? AND status = 'offered'
                """, arguments: [withdrawn.chatId])
            changed = (withdrawn.chatId, "offer_withdrawn", [withdrawn.departmentId])
        case .chatAgentInvited(let invited):
            try db.execute(sql: "INSERT OR IGNORE INTO chat_participants (chat_id, agent_id, display_name) VALUES (?, ?, ?)",
                           arguments: [invited.chatId, invited.agent.id, invited.agent.displayName])
            changed = (invited.chatId, "agent_invited", [invited.departmentId])
        case .chatWrapUpStarted(let started):
            try db.execute(sql: "UPDATE chats SET wrap_up_state = 'active' WHERE id = ? AND wrap_up_state IS NULL", arguments: [started.chatId])
            changed = (started.chatId, "wrapup_started", [started.departmentId])
        case .chatWrapUpFinished(let finished):
            try db.execute(sql: "UPDATE chats SET wrap_up_state = 'done', wrap_up_seconds = ?, wrap_up_since = NULL WHERE id = ?",
                           arguments: [finished.wrapUpSeconds, finished.chatId])
            changed = (finished.chatId, "wrapup_finished", [finished.departmentId])
        case .chatParked(let parked):
            try db.execute(sql: "UPDATE chats SET status = 'parked', handled_seconds = ?, active_since = NULL WHERE id = ? AND status = 'assigned'",
                           arguments: [parked.handlingSeconds, parked.chatId])
            // Parking a chat in wrap-up pauses the wrap-up clock.
            try db.execute(sql: """
                UPDATE chats SET wrap_up_seconds = wrap_up_seconds + MAX(0, ? - wrap_up_since), wrap_up_since = NULL
                WHERE id = ? AND wrap_up_state = 'active' AND wrap_up_since IS NOT NULL
                """, arguments: [time, parked.chatId])
            changed = (parked.chatId, "parked", [parked.departmentId])
        case .chatUnparked(let unparked):
            try db.execute(sql: "UPDATE chats SET status = 'assigned', handled_seconds = ?, active_since = ? WHERE id = ? AND status = 'parked'",
                           arguments: [unparked.handlingSeconds, time, unparked.chatId])
            try db.execute(sql: "UPDATE chats SET wrap_up_since = ? WHERE id = ? AND wrap_up_state = 'active' AND wrap_up_since IS NULL",
                           arguments: [time, unparked.chatId])
            changed = (unparked.chatId, "unparked", [unparked.departmentId])
        case .chatTransferred(let transfer):
            if let toAgent = transfer.toAgent {
                try db.execute(sql: """
                    UPDATE chats SET agent_id = ?, agent_name = ?, status = 'assigned',
                        handled_seconds = handled_seconds + CASE WHEN active_since IS NULL THEN 0 ELSE MAX(0, ? - active_since) END,
                        active_since = ?
                    WHERE id = ?
                    """, arguments: [toAgent.id, toAgent.displayName, time, time, transfer.chatId])
            } else {
                try db.execute(sql: """
                    UPDATE chats SET status = 'transferring', agent_id = NULL, agent_name = NULL,
                        handled_seconds = handled_seconds + CASE WHEN active_since IS NULL THEN 0 ELSE MAX(0, ? - active_since) END,
                        active_since = NULL
                    WHERE id = ?
                    """, arguments: [time, transfer.chatId])
            }
            try db.execute(sql: "DELETE FROM chat_participants WHERE chat_id = ?", arguments: [transfer.chatId])
            changed = (transfer.chatId, "transferred", [transfer.fromDepartmentId, transfer.toDepartmentId])
        case .chatClosed(let closed):
            // The wrap-up clock (if any) starts now unless the chat was parked; SET reads the
            // row as it was before this update.
            try db.execute(sql: """
                UPDATE chats SET status = 'closed', closed_at = ?,
                    wrap_up_since = CASE WHEN status = 'assigned' THEN ? ELSE NULL END,
                    handled_seconds = handled_seconds + CASE WHEN active_since IS NULL THEN 0 ELSE MAX(0, ? - active_since) END,
                    active_since = NULL, closed_by_role = ?, closed_by_id = ?, closed_by_name = ?
                WHERE id = ? AND status != 'closed'
                """, arguments: [time, time, time, closed.closedBy.role.rawValue, closed.closedBy.id, closed.closedBy.displayName, closed.chatId])
            changed = (closed.chatId, "closed", [closed.departmentId])
        case .messagePosted(let message):
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM messages WHERE chat_id = ? AND message_id = ?",
                                           arguments: [message.chatId, message.messageId]) ?? false
            if !exists, let chat = try chat(db, id: message.chatId) {
                let seq = (try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM messages WHERE chat_id = ?", arguments: [message.chatId]) ?? 0) + 1
                try db.execute(
                    sql: """
                    INSERT INTO messages (chat_id, seq, message_id, sender_role, sender_id, sender_name, text, sent_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    arguments: [message.chatId, seq, message.messageId, message.sender.role.rawValue, message.sender.id,
                                message.sender.displayName, message.text, time])
                effects.append(.messageStored(chatId: chat.chatId, agentIds: chat.agentIds, visitorId: chat.visitor.id))
            }
        case .agentPresenceChanged(let agent):
            let departments = String(decoding: try JSONEncoder().encode(agent.departmentIds), as: UTF8.self)
            try db.execute(
                sql: """
                INSERT INTO agents (id, display_name, department_ids, status, available, busy, queues) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, department_ids = excluded.department_ids,
                    status = excluded.status, available = excluded.available, busy = excluded.busy, queues = excluded.queues
                """,
                arguments: [agent.agentId, agent.displayName, departments, agent.status.rawValue, agent.available, agent.busy ?? false,
                            String(decoding: try JSONEncoder().encode(agent.loggedInQueues), as: UTF8.self)])
            overviewDepartments.formUnion(agent.departmentIds)
            if let view = try Self.agent(db, id: agent.agentId) { effects.append(.agentChanged(view)) }
        case .departmentAvailabilityChanged(let change):
            try db.execute(
                sql: """
                INSERT INTO departments (id, display_name, open, available_agents) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, open = excluded.open,
                    available_agents = excluded.available_agents
                """,
                arguments: [change.departmentId, change.displayName, change.open, change.availableAgents])
            overviewDepartments.insert(change.departmentId)
            if let view = try department(db, id: change.departmentId) { effects.append(.departmentChanged(view)) }
        case .chatDeleted(let deleted):
            try forgetChats(db, where: "id = ?", deleted.chatId)
        case .visitorErasureRequested(let erasure):
            try forgetChats(db, where: "visitor_id = ?", erasure.visitorId)
        case .departmentSettingsUpdated(let settings):
            try db.execute(sql: "INSERT OR REPLACE INTO department_settings (department_id, record) VALUES (?, ?)",
                           arguments: [settings.departmentId, APIJSON.string(settings)])
            // Open widgets show the department's new pre-chat form at once.
            if let view = try department(db, id: settings.departmentId) { effects.append(.departmentChanged(view)) }
        case .accountUpdated(let account):
            try saveAccount(account, in: db)
            effects.append(.accountChanged(account))
        case .chatTyping(let typing):
            // Only fresh signals matter; a gateway reading old ones at start pushes nothing.
            if Date().timeIntervalSince(envelope.occurredAt) < 10, let view = try chat(db, id: typing.chatId), view.status != "closed" {
                effects.append(.typing(typing, agentIds: view.agentIds, visitorId: view.visitor.id))
            }
        default:
            break
        }
        overviewDepartments.formUnion(changed?.departments ?? [])
        if !overviewDepartments.isEmpty {
            effects += try overview(db, departments: overviewDepartments.sorted()).map { .overviewChanged($0) }
        }
        if let changed, let view = try chat(db, id: changed.chatId) {
            effects.append(.chatChanged(view, change: changed.change))
            // Everyone else waiting in those departments may have moved up.
            for department in changed.departments.sorted() {
                for waiting in try queue(db, departments: [department]) where waiting.chatId != view.chatId {
                    effects.append(.queuePositionChanged(waiting))
                }
            }
        }
        if let causation = envelope.causationID {
            effects.append(.reply(causationId: causation, envelope))
        }
        return effects
    }

    /// E4/A6: drops chats (and their messages and participants) from the view.
    static func forgetChats(_ db: Database, where condition: String, _ value: String) throws {
        let ids = try String.fetchAll(db, sql: "SELECT id FROM chats WHERE \(condition)", arguments: [value])
        for id in ids {
            try db.execute(sql: "DELETE FROM messages WHERE chat_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM chat_participants WHERE chat_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM chats WHERE id = ?", arguments: [id])
        }
    }

    static func departmentSettings(_ db: Database, id: String) throws -> DepartmentSettingsUpdated? {
        try String.fetchOne(db, sql: "SELECT record FROM department_settings WHERE department_id = ?", arguments: [id])
            .flatMap { try? WireCodec.decodeValue(DepartmentSettingsUpdated.self, from: Data($0.utf8)) }
    }

    static func openChatCount(_ db: Database, visitorId: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chats WHERE visitor_id = ? AND status != 'closed'", arguments: [visitorId]) ?? 0
    }

    static func chatCount(_ db: Database, visitorId: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chats WHERE visitor_id = ?", arguments: [visitorId]) ?? 0
    }

    // MARK: Reading views

    static func chat(_ db: Database, id: String) throws -> ChatView? {
        guard var view = try Row.fetchOne(db, sql: "SELECT * FROM chats WHERE id = ?", arguments: [id]).map(chatView) else { return nil }
        view.invitedAgents = try invitedAgents(db, chatId: id)
        if view.status == "queued" || view.status == "offered" {
            let ahead = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM chats WHERE department_id = ? AND status IN ('queued', 'offered') AND (queued_at < ? OR (queued_at = ? AND id < ?))
                """, arguments: [view.departmentId, view.queuedAt.timeIntervalSince1970, view.queuedAt.timeIntervalSince1970, view.chatId]) ?? 0
            view.position = ahead + 1
            view.estimatedWaitSeconds = try secondsPerPlace(db, department: view.departmentId).map { $0 * Double(ahead + 1) }
        }
        return view
    }

    /// Waiting chats of `departments`, oldest first, with their places.
    static func queue(_ db: Database, departments: [String]) throws -> [ChatView] {
        guard !departments.isEmpty else { return [] }
        let marks = databaseQuestionMarks(count: departments.count)
        var positions: [String: Int] = [:]
        var averages: [String: Double?] = [:]
        return try Row.fetchAll(db, sql: "SELECT * FROM chats WHERE status IN ('queued', 'offered') AND department_id IN (\(marks)) ORDER BY queued_at, id",
                                arguments: StatementArguments(departments)).map { row in
            var view = chatView(row)
            let position = positions[view.departmentId, default: 0] + 1
            positions[view.departmentId] = position
            if averages[view.departmentId] == nil { averages[view.departmentId] = try secondsPerPlace(db, department: view.departmentId) }
            view.position = position
            view.estimatedWaitSeconds = averages[view.departmentId].flatMap { $0 }.map { $0 * Double(position) }
            return view
        }
    }

    /// How long each place in the department's queue takes (A8), from recent handling
    /// times: the average active handling time of its last 20 closed chats, shared by the
    /// agents online and logged in to its queue (each taken as serving one chat at a time,
    /// so the estimate errs long). Before any chat closed: the average time from queued to
    /// assigned of its last 20 assigned chats. Nil with no history at all.
    static func secondsPerPlace(_ db: Database, department: String) throws -> Double? {
        let handling = try Double.fetchOne(db, sql: """
            SELECT AVG(handled_seconds) FROM (
                SELECT handled_seconds FROM chats WHERE department_id = ? AND status = 'closed' AND handled_seconds > 0
                ORDER BY closed_at DESC LIMIT 20)
            """, arguments: [department])
        if let handling {
            let agents = try Row.fetchAll(db, sql: "SELECT department_ids, queues FROM agents WHERE status = 'online'").filter { row in
                let departments = (try? JSONDecoder().decode([String].self, from: Data((row["department_ids"] as String).utf8))) ?? []
                let queues = (row["queues"] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? departments
                return departments.contains(department) && queues.contains(department)
            }.count
            return handling / Double(max(1, agents))
        }
        return try Double.fetchOne(db, sql: """
            SELECT AVG(assigned_at - queued_at) FROM (
                SELECT assigned_at, queued_at FROM chats WHERE department_id = ? AND assigned_at IS NOT NULL ORDER BY assigned_at DESC LIMIT 20)
            """, arguments: [department])
    }

    /// Open chats a caller takes part in: a visitor's own; an agent's held or invited ones,
    /// and closed ones whose wrap-up they have not finished (so another tab finds them).
    static func openChats(_ db: Database, of caller: Caller) throws -> [ChatView] {
        let condition = caller.role == .visitor
            ? "visitor_id = ? AND status != 'closed'"
            : "((agent_id = ? OR id IN (SELECT chat_id FROM chat_participants WHERE agent_id = ?)) AND status != 'closed'"
                + " OR agent_id = ? AND status = 'closed' AND wrap_up_state = 'active')"
        let arguments: StatementArguments = caller.role == .visitor ? [caller.id] : [caller.id, caller.id, caller.id]
        return try Row.fetchAll(db, sql: "SELECT id FROM chats WHERE \(condition) ORDER BY queued_at", arguments: arguments)
            .compactMap { try chat(db, id: $0["id"]).map { caller.role == .visitor ? $0.seenByVisitor : $0 } }
    }

    static func invitedAgents(_ db: Database, chatId: String) throws -> [PersonView] {
        try Row.fetchAll(db, sql: "SELECT agent_id, display_name FROM chat_participants WHERE chat_id = ? ORDER BY rowid", arguments: [chatId]).map {
            PersonView(id: $0["agent_id"], displayName: $0["display_name"])
        }
    }

    /// The overview of `departments` (all known ones when nil), ordered by id.
    static func overview(_ db: Database, departments: [String]? = nil, now: Date = Date()) throws -> [QueueOverview] {
        if departments?.isEmpty == true { return [] }
        let filter = departments.map { "WHERE d.id IN (\(databaseQuestionMarks(count: $0.count)))" } ?? ""
        return try Row.fetchAll(db, sql: """
            SELECT d.id, d.display_name, d.open,
                (SELECT COUNT(*) FROM chats c WHERE c.department_id = d.id AND c.status IN ('queued', 'offered')) AS waiting,
                (SELECT MIN(c.queued_at) FROM chats c WHERE c.department_id = d.id AND c.status IN ('queued', 'offered')) AS oldest,
                (SELECT COUNT(*) FROM chats c WHERE c.department_id = d.id AND c.status IN ('assigned', 'parked')) AS ongoing,
                (SELECT COUNT(*) FROM agents a WHERE a.status = 'online'
                    AND EXISTS (SELECT 1 FROM json_each(a.department_ids) WHERE value = d.id)) AS online,
                (SELECT COUNT(*) FROM agents a WHERE a.status = 'online'
                    AND EXISTS (SELECT 1 FROM json_each(COALESCE(a.queues, a.department_ids)) WHERE value = d.id)) AS logged_in,
                (SELECT COUNT(*) FROM agents a WHERE a.status = 'online' AND a.available AND NOT a.busy
                    AND EXISTS (SELECT 1 FROM json_each(COALESCE(a.queues, a.department_ids)) WHERE value = d.id)) AS available
            FROM departments d \(filter) ORDER BY d.id
            """, arguments: StatementArguments(departments ?? [])).map { row in
            let oldest: Double? = row["oldest"]
            return QueueOverview(departmentId: row["id"], displayName: row["display_name"], open: row["open"],
                                 waiting: row["waiting"], ongoing: row["ongoing"], agentsOnline: row["online"], agentsLoggedIn: row["logged_in"],
                                 agentsAvailable: row["available"],
                                 longestWaitSeconds: oldest.map { max(0, now.timeIntervalSince1970 - $0) } ?? 0)
        }
    }

    static func messages(_ db: Database, chatId: String, after seq: Int, limit: Int = 500) throws -> [MessageView] {
        try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE chat_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [chatId, seq, limit]).map { row in
            MessageView(chatId: row["chat_id"], seq: row["seq"], messageId: row["message_id"],
                        sender: .init(role: row["sender_role"], id: row["sender_id"], displayName: row["sender_name"]),
                        text: row["text"], sentAt: Date(timeIntervalSince1970: row["sent_at"]))
        }
    }

    static func lastSeq(_ db: Database, chatId: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM messages WHERE chat_id = ?", arguments: [chatId]) ?? 0
    }

    static func department(_ db: Database, id: String) throws -> DepartmentView? {
        try Row.fetchOne(db, sql: "\(departmentQuery) WHERE departments.id = ?", arguments: [id]).map(departmentView)
    }

    static func departments(_ db: Database) throws -> [DepartmentView] {
        try Row.fetchAll(db, sql: "\(departmentQuery) ORDER BY departments.id").map(departmentView)
    }

    static func agent(_ db: Database, id: String) throws -> AgentView? {
        try Row.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [id]).map(agentView)
    }

    /// B4: every agent sharing a department with `departments`, with their state.
    static func people(_ db: Database, sharing departments: [String]) throws -> [AgentView] {
        try Row.fetchAll(db, sql: "SELECT * FROM agents ORDER BY display_name, id").map(agentView)
            .filter { !Set($0.departmentIds).isDisjoint(with: departments) }
    }

    private static func agentView(_ row: Row) -> AgentView {
        let departments = (try? JSONDecoder().decode([String].self, from: Data((row["department_ids"] as String).utf8))) ?? []
        return AgentView(agentId: row["id"], displayName: row["display_name"], departmentIds: departments,
                         status: row["status"], available: row["available"], busy: row["busy"],
                         queues: (row["queues"] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? departments)
    }

    private static func chatView(_ row: Row) -> ChatView {
        let agentId: String? = row["agent_id"]
        return ChatView(
            chatId: row["id"], departmentId: row["department_id"], status: row["status"],
            visitor: PersonView(id: row["visitor_id"], displayName: row["visitor_name"], contact: row["visitor_contact"]),
            agent: agentId.map { PersonView(id: $0, displayName: row["agent_name"] ?? $0) },
            invitedAgents: [],
            offeredTo: (row["offered_to_id"] as String?).map { PersonView(id: $0, displayName: row["offered_to_name"] ?? $0) },
            offerExpiresAt: (row["offer_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            queuedAt: Date(timeIntervalSince1970: row["queued_at"]),
            closedAt: (row["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            handledSeconds: row["handled_seconds"],
            activeSince: (row["active_since"] as Double?).map(Date.init(timeIntervalSince1970:)),
            position: nil, estimatedWaitSeconds: nil,
            contactEmail: row["contact_email"],
            preChat: (row["pre_chat"] as String?).flatMap { try? WireCodec.decodeValue(PreChatAnswers.self, from: Data($0.utf8)) },
            closedBy: (row["closed_by_id"] as String?).map {
                MessageView.SenderView(role: row["closed_by_role"] ?? "system", id: $0, displayName: row["closed_by_name"] ?? $0)
            },
            wrapUp: (row["wrap_up_state"] as String?).map { state in
                WrapUpView(state: state, seconds: row["wrap_up_seconds"], since: (row["wrap_up_since"] as Double?).map(Date.init(timeIntervalSince1970:)))
            })
    }

    /// A department with its admin settings, for `departmentView`.
    private static let departmentQuery = """
        SELECT departments.*, department_settings.record AS settings FROM departments
        LEFT JOIN department_settings ON department_settings.department_id = departments.id
        """

    private static func departmentView(_ row: Row) -> DepartmentView {
        let settings = (row["settings"] as String?).flatMap { try? WireCodec.decodeValue(DepartmentSettingsUpdated.self, from: Data($0.utf8)) }
        return DepartmentView(departmentId: row["id"], displayName: row["display_name"], open: row["open"], availableAgents: row["available_agents"],
                              preChatForm: settings?.preChatForm ?? .empty)
    }
}
