import ChatKafka
import ChatOps
import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Presence's configuration, read from the environment in one place.
public struct PresenceConfiguration: Sendable {
    public var common: CommonConfiguration
    /// `PRESENCE_GROUP_ID`.
    public var groupID: String
    /// `PRESENCE_GRACE_SECONDS`: how long an agent without connections stays online.
    public var gracePeriodSeconds: Int
    /// `PRESENCE_DEPARTMENTS`: `id:Display name` entries separated by `;`.
    public var departments: [DepartmentEntry]
    /// `PRESENCE_AGENTS`: `id:Display name:department+department` entries separated by `;`.
    public var agents: [AgentPresence]

    public static let defaultDepartments = "support:Customer Support;sales:Sales"
    public static let defaultAgents = "alice:Alice Adams:support+sales;bob:Bob Berg:support"

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "presence", environment: environment)
        groupID = try environment.string("PRESENCE_GROUP_ID", default: "presence")
        gracePeriodSeconds = try environment.int("PRESENCE_GRACE_SECONDS", default: 10, range: 0...3_600)
        departments = try Self.entries(environment, "PRESENCE_DEPARTMENTS", default: Self.defaultDepartments, fields: 2).map {
            DepartmentEntry(id: $0[0], displayName: $0[1])
        }
        let departmentIDs = Set(departments.map(\.id))
        agents = try Self.entries(environment, "PRESENCE_AGENTS", default: Self.defaultAgents, fields: 3).map { fields throws(ConfigurationError) in
            let memberships = fields[2].split(separator: "+").map(String.init)
            for department in memberships where !departmentIDs.contains(department) {
                throw ConfigurationError(variable: "PRESENCE_AGENTS", problem: "names department '\(department)', which PRESENCE_DEPARTMENTS does not define")
            }
            return AgentPresence(id: fields[0], displayName: fields[1], departmentIds: memberships)
        }
    }

    private static func entries(_ environment: EnvironmentReader, _ name: String, default defaultValue: String, fields: Int) throws(ConfigurationError) -> [[String]] {
        let text = try environment.string(name, default: defaultValue)
        var seen = Set<String>()
        return try text.split(separator: ";").map { entry throws(ConfigurationError) in
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == fields, parts.allSatisfy({ !$0.isEmpty }), WireID.isValid(parts[0]) else {
                throw ConfigurationError(variable: name, problem: "entry '\(entry)' must have \(fields) non-empty ':'-separated fields and a valid id")
            }
            guard seen.insert(parts[0]).inserted else {
                throw ConfigurationError(variable: name, problem: "defines '\(parts[0])' twice")
            }
            return parts
        }
    }

    public var storePath: String { "\(common.dataDirectory)/presence.sqlite" }
}

enum PresenceStore {
    static let migrations: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("presence-1", { db in
            try db.create(table: "agents") { table in
                table.column("id", .text).primaryKey()
                table.column("status", .text).notNull()
                table.column("available", .boolean).notNull()
                table.column("connections", .text).notNull()
                table.column("offline_at", .double)
            }
        }),
        ("presence-2", { db in
            try db.alter(table: "agents") { $0.add(column: "busy", .boolean).notNull().defaults(to: false) }
        }),
    ]

    /// The directory from configuration, with each agent's live state from the store.
    static func load(_ db: Database, directory: [AgentPresence]) throws -> [AgentPresence] {
        try directory.map { entry in
            var agent = entry
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [entry.id]) {
                agent.status = AgentPresenceChanged.Status(rawValue: row["status"]) ?? .offline
                agent.available = row["available"]
                agent.busy = row["busy"]
                agent.connections = (try? JSONDecoder().decode([String: String].self, from: Data((row["connections"] as String).utf8))) ?? [:]
                agent.offlineAt = (row["offline_at"] as Double?).map(Date.init(timeIntervalSince1970:))
            }
            return agent
        }
    }

    static func apply(_ action: PresenceAction, in db: Database) throws {
        switch action {
        case .saveAgent(let agent):
            let connections = String(decoding: try JSONEncoder().encode(agent.connections), as: UTF8.self)
            try db.execute(
                sql: """
                INSERT INTO agents (id, status, available, connections, offline_at, busy) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, available = excluded.available,
                    connections = excluded.connections, offline_at = excluded.offline_at, busy = excluded.busy
                """,
                arguments: [agent.id, agent.status.rawValue, agent.available, connections, agent.offlineAt?.timeIntervalSince1970, agent.busy])
        case .publish(let record):
            try record.appendToOutbox(db)
        }
    }
}

/// Presence state shared by the command consumer and the grace-period clock.
final class PresenceEngine: EventApplier {
    typealias Effect = Never
    private let state: Mutex<PresenceState>

    init(state: PresenceState) {
        self.state = Mutex(state)
    }

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        try state.withLock { current in
            var next = current
            switch next.handle(envelope, now: Date()) {
            case .success(let actions):
                for action in actions { try PresenceStore.apply(action, in: db) }
                current = next
            case .failure(let refusal):
                throw RecordRejection(refusal.reason)
            }
        }
        return []
    }

    func run(_ step: (inout PresenceState) -> [PresenceAction], in db: Database) throws {
        try state.withLock { current in
            var next = current
            for action in step(&next) { try PresenceStore.apply(action, in: db) }
            current = next
        }
    }
}

public enum PresenceApplication {
    public static func services(configuration: PresenceConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: PresenceStore.migrations)
        context.health.set("store", true)
        let agents = try store.database.read { try PresenceStore.load($0, directory: configuration.agents) }
        let state = PresenceState(agents: agents, departments: configuration.departments,
                                  gracePeriod: TimeInterval(configuration.gracePeriodSeconds), producer: configuration.common.instanceID)
        let engine = PresenceEngine(state: state)
        try store.database.write { db in
            try engine.run({ $0.announcement(now: Date()) }, in: db)
        }
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let outbox = OutboxPublisher(store: store, producer: producer, logger: logger)
        return [
            ProducerService(producer: producer),
            outbox,
            // Takes agents offline when their grace period ends.
            PeriodicTask(every: .milliseconds(500), store: store, outbox: outbox) { db, now in
                try engine.run({ $0.expireGracePeriods(now: now) }, in: db)
            },
            ConsumerLoop(name: "commands", topics: [.presenceCommands], mode: .group(groupID: configuration.groupID), store: store,
                         common: configuration.common, applier: engine, outbox: outbox, health: context.health, logger: logger),
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }
}
