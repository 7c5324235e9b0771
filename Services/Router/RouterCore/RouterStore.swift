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
        ("router-7", { db in
            // Chats from before partitions were tracked are adopted by whoever is assigned partition 0.
            try db.alter(table: "chats") { $0.add(column: "partition", .integer).notNull().defaults(to: 0) }
            try db.create(index: "chats_partition", on: "chats", columns: ["partition", "status"])
            try db.alter(table: "agents") { $0.add(column: "online", .boolean).notNull().defaults(to: true) }
            try db.create(table: "partition_state") { table in
                table.column("partition", .integer).primaryKey()
                table.column("epoch", .integer).notNull()
                table.column("sequence", .integer).notNull()
            }
            try db.create(table: "remote_snapshots") { table in
                table.column("partition", .integer).primaryKey()
                table.column("chats", .text).notNull()
            }
        }),
        ("router-8", { db in
            try db.alter(table: "chats") { $0.add(column: "parked_for_call", .boolean).notNull().defaults(to: false) }
            try db.create(table: "agent_calls") { table in
                table.column("agent_id", .text).notNull()
                table.column("call_id", .text).notNull()
                table.primaryKey(["agent_id", "call_id"])
            }
        }),
        ("router-9", { db in
            try db.alter(table: "agents") { table in
                table.add(column: "queues", .text)
                table.add(column: "max_chats", .integer)
            }
            try db.alter(table: "departments") { $0.add(column: "max_chats", .integer) }
        }),
        ("router-10", { db in
            try db.alter(table: "chats") { $0.add(column: "contact_email", .text) }
        }),
    ]

    static let openStatuses = "('queued', 'offered', 'assigned', 'parked', 'wrapup')"

    /// Departments, agents and other partitions' chats; this instance's chats come with
    /// partition assignments.
    static func loadState(_ db: Database, policy: RoutingPolicy, commandPartitions: Int32) throws -> RouterState {
        let open = try String.fetchAll(db, sql: "SELECT id FROM departments WHERE open")
        var maximums: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, max_chats FROM departments WHERE max_chats IS NOT NULL") { maximums[row["id"]] = row["max_chats"] }
        let agents = try Row.fetchAll(db, sql: "SELECT * FROM agents").map { row in
            RoutingAgent(id: row["id"], displayName: row["display_name"],
                         departmentIds: (row["department_ids"] as String).split(separator: ",").map(String.init),
                         takingChats: row["taking_chats"], online: row["online"],
                         queues: (row["queues"] as String?).map { Set($0.split(separator: ",").map(String.init)) }, maxChats: row["max_chats"])
        }
        var remoteChats: [Int32: [RoutedChat]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT partition, chats FROM remote_snapshots") {
            remoteChats[row["partition"]] = try? WireCodec.decodeValue([RoutedChat].self, from: Data((row["chats"] as String).utf8))
        }
        var calls: [String: Set<String>] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT agent_id, call_id FROM agent_calls") {
            calls[row["agent_id"], default: []].insert(row["call_id"])
        }
        return RouterState(openDepartments: Set(open), departmentMaximums: maximums, agents: agents, remoteChats: remoteChats, commandPartitions: commandPartitions,
                           calls: calls, policy: policy)
    }

    /// The open chats of one partition as this store last saw them.
    static func openChats(_ db: Database, partition: Int32) throws -> [RoutedChat] {
        try Row.fetchAll(db, sql: "SELECT * FROM chats WHERE partition = ? AND status IN \(openStatuses)", arguments: [partition]).map { row -> RoutedChat in
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
            chat.partition = row["partition"]
            chat.parkedForCall = row["parked_for_call"]
            chat.contactEmail = row["contact_email"]
            return chat
        }
    }

    /// Replaces the partition's open chats with a snapshot's.
    static func replaceOpenChats(_ db: Database, partition: Int32, with chats: [RoutedChat]) throws {
        try db.execute(sql: "DELETE FROM chats WHERE partition = ? AND status IN \(openStatuses)", arguments: [partition])
        for chat in chats { try apply(.saveChat(chat), in: db) }
    }

    /// Where this store is in a partition's history: (0, 0) when it never owned it.
    static func position(_ db: Database, partition: Int32) throws -> (epoch: Int64, sequence: Int64) {
        guard let row = try Row.fetchOne(db, sql: "SELECT epoch, sequence FROM partition_state WHERE partition = ?", arguments: [partition]) else {
            return (0, 0)
        }
        return (row["epoch"], row["sequence"])
    }

    static func savePosition(_ db: Database, partition: Int32, epoch: Int64, sequence: Int64) throws {
        try db.execute(sql: """
            INSERT INTO partition_state (partition, epoch, sequence) VALUES (?, ?, ?)
            ON CONFLICT (partition) DO UPDATE SET epoch = excluded.epoch, sequence = excluded.sequence
            """, arguments: [partition, epoch, sequence])
    }

    static func saveRemoteChats(_ db: Database, partition: Int32, chats: [RoutedChat]) throws {
        let text = String(decoding: try WireCodec.encodeValue(chats), as: UTF8.self)
        try db.execute(sql: "INSERT INTO remote_snapshots (partition, chats) VALUES (?, ?) ON CONFLICT (partition) DO UPDATE SET chats = excluded.chats",
                       arguments: [partition, text])
    }

    /// The partition a chat of this store belongs to, if the store knows the chat.
    static func partition(_ db: Database, chatId: String) throws -> Int32? {
        try Int32.fetchOne(db, sql: "SELECT partition FROM chats WHERE id = ?", arguments: [chatId])
    }

    static func forgetClosedChats(_ db: Database, visitorId: String, partition: Int32) throws {
        try db.execute(sql: "DELETE FROM chats WHERE visitor_id = ? AND partition = ? AND status = 'closed'", arguments: [visitorId, partition])
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
                    active_since, invited, offered_to_id, offered_to_name, offer_expires_at, passed_by, wrap_up_seconds, wrap_up_since, partition,
                    parked_for_call, contact_email)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET department_id = excluded.department_id, status = excluded.status, partition = excluded.partition,
                    parked_for_call = excluded.parked_for_call,
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
                            chat.wrapUpSeconds, chat.wrapUpSince?.timeIntervalSince1970, chat.partition, chat.parkedForCall, chat.contactEmail])
        case .saveDepartment(let id, let open, let maximum):
            try db.execute(sql: """
                INSERT INTO departments (id, open, max_chats) VALUES (?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET open = excluded.open, max_chats = excluded.max_chats
                """, arguments: [id, open, maximum])
        case .saveAgent(let agent):
            try db.execute(
                sql: """
                INSERT INTO agents (id, display_name, department_ids, taking_chats, online, queues, max_chats) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, department_ids = excluded.department_ids,
                    taking_chats = excluded.taking_chats, online = excluded.online, queues = excluded.queues, max_chats = excluded.max_chats
                """,
                arguments: [agent.id, agent.displayName, agent.departmentIds.joined(separator: ","), agent.takingChats, agent.online,
                            agent.queues.sorted().joined(separator: ","), agent.maxChats])
        case .publish(let record):
            try record.appendToOutbox(db)
        case .proposalAnswered:
            break
        case .saveCalls(let agentId, let callIds):
            try db.execute(sql: "DELETE FROM agent_calls WHERE agent_id = ?", arguments: [agentId])
            for callId in callIds.sorted() {
                try db.execute(sql: "INSERT INTO agent_calls (agent_id, call_id) VALUES (?, ?)", arguments: [agentId, callId])
            }
        }
    }
}
