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
    /// `PRESENCE_CONNECTION_TIMEOUT_SECONDS`: a connection that no gateway mentioned for this
    /// long is over (gateways repeat open ones every `GATEWAY_PRESENCE_HEARTBEAT_SECONDS`).
    public var connectionTimeoutSeconds: Int
    /// `PRESENCE_DEPARTMENTS`: `id:Display name[:max chats per agent]` entries separated by `;`.
    public var departments: [DepartmentEntry]
    /// `PRESENCE_AGENTS`: accounts provisioned from configuration, created active when the
    /// store does not hold them yet (afterwards the store's, changed by admins, wins):
    /// `login:Display name:department+department[:max chats[:role+role[:bcrypt hash]]]`
    /// entries separated by `;`. Empty optional fields take the defaults (no maximum,
    /// role `agent`, no password: such an account cannot sign in).
    public var agents: [AgentPresence]
    /// `PRESENCE_AWAY_AFTER_MINUTES`: the away time new accounts start with (B2); 0: never.
    public var awayAfterMinutes: Double

    public static let defaultDepartments = "support:Customer Support;sales:Sales"

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "presence", environment: environment)
        groupID = try environment.string("PRESENCE_GROUP_ID", default: "presence")
        gracePeriodSeconds = try environment.int("PRESENCE_GRACE_SECONDS", default: 10, range: 0...3_600)
        connectionTimeoutSeconds = try environment.int("PRESENCE_CONNECTION_TIMEOUT_SECONDS", default: 30, range: 2...3_600)
        departments = try Self.entries(environment, "PRESENCE_DEPARTMENTS", default: Self.defaultDepartments, fields: 2...3).map { fields throws(ConfigurationError) in
            DepartmentEntry(id: fields[0], displayName: fields[1], maxChatsPerAgent: try Self.maximum(fields, at: 2, variable: "PRESENCE_DEPARTMENTS"))
        }
        let departmentIDs = Set(departments.map(\.id))
        awayAfterMinutes = try environment.double("PRESENCE_AWAY_AFTER_MINUTES", default: 5, range: AccountLimits.awayAfterMinutes)
        let away = awayAfterMinutes
        agents = try Self.entries(environment, "PRESENCE_AGENTS", default: "", fields: 3...6).map { fields throws(ConfigurationError) in
            guard LoginName.isValid(fields[0]) else {
                throw ConfigurationError(variable: "PRESENCE_AGENTS", problem: "'\(fields[0])' is not a login name (2-64 of a-z, 0-9, '.', '_', '-')")
            }
            let memberships = fields[2].split(separator: "+").map(String.init)
            for department in memberships where !departmentIDs.contains(department) {
                throw ConfigurationError(variable: "PRESENCE_AGENTS", problem: "names department '\(department)', which PRESENCE_DEPARTMENTS does not define")
            }
            var roles: [StaffRole] = [.agent]
            if fields.count > 4, !fields[4].isEmpty {
                roles = try fields[4].split(separator: "+").map { name throws(ConfigurationError) in
                    guard let role = StaffRole(rawValue: String(name)) else {
                        throw ConfigurationError(variable: "PRESENCE_AGENTS", problem: "'\(name)' in entry '\(fields[0])' is not a role (agent, supervisor, admin)")
                    }
                    return role
                }
            }
            let hash = fields.count > 5 && !fields[5].isEmpty ? fields[5] : nil
            if let hash, !hash.hasPrefix("$2") {
                throw ConfigurationError(variable: "PRESENCE_AGENTS", problem: "the password of entry '\(fields[0])' must be a bcrypt hash (chatctl hash-password)")
            }
            return AgentPresence(id: fields[0], displayName: fields[1], departmentIds: memberships,
                                 maxChats: fields[3].isEmpty ? nil : try Self.maximum(fields, at: 3, variable: "PRESENCE_AGENTS"),
                                 roles: roles, passwordHash: hash, awayAfterMinutes: away)
        }
    }

    /// An optional maximum of concurrent chats: 1-100.
    private static func maximum(_ fields: [String], at index: Int, variable: String) throws(ConfigurationError) -> Int? {
        guard fields.count > index, !fields[index].isEmpty else { return nil }
        guard let value = Int(fields[index]), (1...100).contains(value) else {
            throw ConfigurationError(variable: variable, problem: "'\(fields[index])' in entry '\(fields[0])' must be a maximum of chats from 1 to 100")
        }
        return value
    }

    private static func entries(_ environment: EnvironmentReader, _ name: String, default defaultValue: String, fields: ClosedRange<Int>) throws(ConfigurationError) -> [[String]] {
        // Set but empty means no entries (e.g. no accounts from configuration).
        let text = environment.values[name] ?? defaultValue
        var seen = Set<String>()
        return try text.split(separator: ";").map { entry throws(ConfigurationError) in
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            // The required fields must be filled; optional ones may be left empty.
            guard fields.contains(parts.count), parts.prefix(fields.lowerBound).allSatisfy({ !$0.isEmpty }), WireID.isValid(parts[0]) else {
                throw ConfigurationError(variable: name, problem: "entry '\(entry)' must have \(fields.lowerBound) to \(fields.upperBound) ':'-separated fields (the first \(fields.lowerBound) filled) and a valid id")
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
        ("presence-3", { db in
            try db.alter(table: "agents") { $0.add(column: "logged_out_of", .text).notNull().defaults(to: "[]") }
        }),
        // Accounts (B1): the directory entry of each agent, and the idle clock (B2).
        ("presence-4", { db in
            try db.alter(table: "agents") { table in
                table.add(column: "account", .text)
                table.add(column: "last_active_at", .double)
            }
        }),
    ]

    /// Every account the store holds (with its live state), and the configured accounts it
    /// does not hold yet. Rows from before accounts take their account from configuration.
    static func load(_ db: Database, configured: [AgentPresence]) throws -> [AgentPresence] {
        var agents = Dictionary(uniqueKeysWithValues: configured.map { ($0.id, $0) })
        for row in try Row.fetchAll(db, sql: "SELECT * FROM agents") {
            let id: String = row["id"]
            var agent: AgentPresence
            if let text = row["account"] as String?, let account = try? WireCodec.decodeValue(AccountUpdated.self, from: Data(text.utf8)) {
                agent = AgentPresence(account: account)
            } else if let entry = agents[id] {
                agent = entry
            } else {
                continue
            }
            agent.status = AgentPresenceChanged.Status(rawValue: row["status"]) ?? .offline
            agent.available = row["available"]
            agent.busy = row["busy"]
            agent.connections = connections(fromJSON: row["connections"])
            agent.offlineAt = (row["offline_at"] as Double?).map(Date.init(timeIntervalSince1970:))
            agent.loggedOutOf = Set((try? JSONDecoder().decode([String].self, from: Data((row["logged_out_of"] as String).utf8))) ?? [])
            agent.lastActiveAt = (row["last_active_at"] as Double?).map(Date.init(timeIntervalSince1970:))
            agents[id] = agent
        }
        return agents.values.sorted { $0.id < $1.id }
    }

    /// Connections as stored; rows from before connections had a time read as just seen.
    static func connections(fromJSON text: String) -> [String: AgentConnection] {
        let data = Data(text.utf8)
        if let current = try? WireCodec.decodeValue([String: AgentConnection].self, from: data) { return current }
        let older = (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
        return older.mapValues { AgentConnection(gatewayId: $0, seenAt: Date()) }
    }

    static func apply(_ action: PresenceAction, in db: Database) throws {
        switch action {
        case .saveAgent(let agent):
            let connections = String(decoding: try WireCodec.encodeValue(agent.connections), as: UTF8.self)
            try db.execute(
                sql: """
                INSERT INTO agents (id, status, available, connections, offline_at, busy, logged_out_of, account, last_active_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, available = excluded.available,
                    connections = excluded.connections, offline_at = excluded.offline_at, busy = excluded.busy,
                    logged_out_of = excluded.logged_out_of, account = excluded.account, last_active_at = excluded.last_active_at
                """,
                arguments: [agent.id, agent.status.rawValue, agent.available, connections, agent.offlineAt?.timeIntervalSince1970, agent.busy,
                            String(decoding: try JSONEncoder().encode(agent.loggedOutOf.sorted()), as: UTF8.self),
                            String(decoding: try WireCodec.encodeValue(agent.account), as: UTF8.self), agent.lastActiveAt?.timeIntervalSince1970])
        case .publish(let record):
            try record.appendToOutbox(db)
        }
    }
}

/// Presence state shared by the command consumer, the view of other instances' agents and
/// the grace-period clock. Each instance decides for the agents of its `presence.commands`
/// partitions; what the others decided reaches it through `presence.agents`.
final class PresenceEngine: EventApplier {
    typealias Effect = Never
    private let state: Mutex<PresenceState>
    private let store: ServiceStore
    private let outbox: OutboxPublisher
    private let reader: KafkaConsumerConfiguration
    private let logger: Logger

    init(state: PresenceState, store: ServiceStore, outbox: OutboxPublisher, reader: KafkaConsumerConfiguration, logger: Logger) {
        self.state = Mutex(state)
        self.store = store
        self.outbox = outbox
        self.reader = reader
        self.logger = logger
    }

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        if record.topic == Topic.presenceAgents.name {
            guard case .agentPresenceChanged(let change) = envelope.event else { return [] }
            try run({ $0.noteRemote(change, now: Date()) }, in: db)
            return []
        }
        if record.topic == Topic.accountsDirectory.name {
            guard case .accountUpdated(let account) = envelope.event else { return [] }
            try run({ $0.noteRemoteAccount(account, now: Date()) }, in: db)
            return []
        }
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

    /// Takes over agents: first the view of `presence.agents` catches up with what their
    /// previous owner published, then their state is this instance's to decide.
    func assigned(_ partitions: [KafkaTopicPartition]) {
        let owned = partitions.partitions(of: .presenceCommands)
        guard !owned.isEmpty else { return }
        waitForTheView()
        do {
            try store.database.write { db in try run({ $0.adopt(partitions: owned, now: Date()) }, in: db) }
        } catch {
            logger.critical("cannot take over agents", metadata: ["partitions": "\(owned.sorted())", "error": "\(error)"])
            exit(1)
        }
        outbox.signal()
    }

    /// Stops deciding for the agents of the partitions, and publishes what is left, so the
    /// next owner's view has it.
    func revoked(_ partitions: [KafkaTopicPartition]) {
        let released = partitions.partitions(of: .presenceCommands)
        guard !released.isEmpty else { return }
        state.withLock { $0.release(partitions: released) }
        outbox.publishBeforeHandOver(released)
    }

    /// Waits (up to 10 s) until the store's view has read `presence.agents` and
    /// `accounts.directory` up to their ends.
    private func waitForTheView() {
        switch StoreCatchUp.wait(store: store, reader: reader, topics: [Topic.presenceAgents.name, Topic.accountsDirectory.name], timeout: .seconds(10)) {
        case .caughtUp: break
        case .endsUnknown: logger.warning("cannot read the ends of presence.agents and accounts.directory; taking over without waiting for the view")
        case .timedOut: logger.warning("the view of presence.agents and accounts.directory did not catch up in 10 s; taking over anyway")
        }
    }
}

public enum PresenceApplication {
    public static func services(configuration: PresenceConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: PresenceStore.migrations)
        context.health.set("store", true)
        let reader = configuration.common.consumerConfiguration(groupID: "\(configuration.common.instanceID).reader")
        let partitions = try Self.partitionCounts(reader: reader, logger: logger)
        let agents = try store.database.read { try PresenceStore.load($0, configured: configuration.agents) }
        // Owns nothing until the group assigns partitions; then it announces its agents.
        let state = PresenceState(agents: agents, departments: configuration.departments, gracePeriod: TimeInterval(configuration.gracePeriodSeconds),
                                  connectionTimeout: TimeInterval(configuration.connectionTimeoutSeconds), ownedPartitions: [],
                                  commandPartitions: partitions, producer: configuration.common.instanceID,
                                  defaultAwayAfterMinutes: configuration.awayAfterMinutes)
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let outbox = OutboxPublisher(store: store, producer: producer, logger: logger)
        let engine = PresenceEngine(state: state, store: store, outbox: outbox, reader: reader, logger: logger)
        return [
            ProducerService(producer: producer),
            outbox,
            // Ends silent connections and takes agents offline when their grace period ends.
            PeriodicTask(every: .milliseconds(500), store: store, outbox: outbox) { db, now in
                try engine.run({ $0.expireGracePeriods(now: now) }, in: db)
            },
            // Every instance follows every agent's published state (departments count them
            // all) and every account (to take over any partition).
            ConsumerLoop(name: "agents", topics: [.presenceAgents, .accountsDirectory], mode: .allPartitions, store: store,
                         common: configuration.common, applier: engine, outbox: outbox, health: context.health, logger: logger),
            ConsumerLoop(name: "commands", topics: [.presenceCommands], mode: .group(groupID: configuration.groupID), store: store,
                         common: configuration.common, applier: engine, outbox: outbox, health: context.health, logger: logger),
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }

    /// `presence.commands`, `presence.agents` and `accounts.directory` must have the same
    /// partition count: an agent's records go to the same partition number in each.
    static func partitionCounts(reader: KafkaConsumerConfiguration, logger: Logger) throws -> Int32 {
        let topics: [Topic] = [.presenceCommands, .presenceAgents, .accountsDirectory]
        let counts = try BrokerRetry.blocking("partition counts", logger: logger) {
            try topics.map { try KafkaLatestRecords.partitionCount(configuration: reader, topic: $0.name) }
        }
        guard Set(counts).count == 1 else {
            throw ConfigurationError(variable: topics.map(\.name).joined(separator: "/"),
                                     problem: "the topics have \(counts.map(String.init).joined(separator: ", ")) partitions; they must have the same count")
        }
        return counts[0]
    }
}
