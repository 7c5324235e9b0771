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
    /// `PRESENCE_AGENTS`: `id:Display name:department+department[:max chats]` entries separated by `;`.
    public var agents: [AgentPresence]

    public static let defaultDepartments = "support:Customer Support;sales:Sales"
    public static let defaultAgents = "alice:Alice Adams:support+sales;bob:Bob Berg:support"

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "presence", environment: environment)
        groupID = try environment.string("PRESENCE_GROUP_ID", default: "presence")
        gracePeriodSeconds = try environment.int("PRESENCE_GRACE_SECONDS", default: 10, range: 0...3_600)
        connectionTimeoutSeconds = try environment.int("PRESENCE_CONNECTION_TIMEOUT_SECONDS", default: 30, range: 2...3_600)
        departments = try Self.entries(environment, "PRESENCE_DEPARTMENTS", default: Self.defaultDepartments, fields: 2...3).map { fields throws(ConfigurationError) in
            DepartmentEntry(id: fields[0], displayName: fields[1], maxChatsPerAgent: try Self.maximum(fields, at: 2, variable: "PRESENCE_DEPARTMENTS"))
        }
        let departmentIDs = Set(departments.map(\.id))
        agents = try Self.entries(environment, "PRESENCE_AGENTS", default: Self.defaultAgents, fields: 3...4).map { fields throws(ConfigurationError) in
            let memberships = fields[2].split(separator: "+").map(String.init)
            for department in memberships where !departmentIDs.contains(department) {
                throw ConfigurationError(variable: "PRESENCE_AGENTS", problem: "names department '\(department)', which PRESENCE_DEPARTMENTS does not define")
            }
            return AgentPresence(id: fields[0], displayName: fields[1], departmentIds: memberships,
                                 maxChats: try Self.maximum(fields, at: 3, variable: "PRESENCE_AGENTS"))
        }
    }

    /// An optional maximum of concurrent chats: 1-100.
    private static func maximum(_ fields: [String], at index: Int, variable: String) throws(ConfigurationError) -> Int? {
        guard fields.count > index else { return nil }
        guard let value = Int(fields[index]), (1...100).contains(value) else {
            throw ConfigurationError(variable: variable, problem: "'\(fields[index])' in entry '\(fields[0])' must be a maximum of chats from 1 to 100")
        }
        return value
    }

    private static func entries(_ environment: EnvironmentReader, _ name: String, default defaultValue: String, fields: ClosedRange<Int>) throws(ConfigurationError) -> [[String]] {
        let text = try environment.string(name, default: defaultValue)
        var seen = Set<String>()
        return try text.split(separator: ";").map { entry throws(ConfigurationError) in
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.contains(parts.count), parts.allSatisfy({ !$0.isEmpty }), WireID.isValid(parts[0]) else {
                throw ConfigurationError(variable: name, problem: "entry '\(entry)' must have \(fields.lowerBound) to \(fields.upperBound) non-empty ':'-separated fields and a valid id")
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
    ]

    /// The directory from configuration, with each agent's live state from the store.
    static func load(_ db: Database, directory: [AgentPresence]) throws -> [AgentPresence] {
        try directory.map { entry in
            var agent = entry
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [entry.id]) {
                agent.status = AgentPresenceChanged.Status(rawValue: row["status"]) ?? .offline
                agent.available = row["available"]
                agent.busy = row["busy"]
                agent.connections = connections(fromJSON: row["connections"])
                agent.offlineAt = (row["offline_at"] as Double?).map(Date.init(timeIntervalSince1970:))
                agent.loggedOutOf = Set((try? JSONDecoder().decode([String].self, from: Data((row["logged_out_of"] as String).utf8))) ?? [])
            }
            return agent
        }
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
                INSERT INTO agents (id, status, available, connections, offline_at, busy, logged_out_of) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, available = excluded.available,
                    connections = excluded.connections, offline_at = excluded.offline_at, busy = excluded.busy,
                    logged_out_of = excluded.logged_out_of
                """,
                arguments: [agent.id, agent.status.rawValue, agent.available, connections, agent.offlineAt?.timeIntervalSince1970, agent.busy,
                            String(decoding: try JSONEncoder().encode(agent.loggedOutOf.sorted()), as: UTF8.self)])
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

    /// Waits (up to 10 s) until the store's view has read `presence.agents` up to its end.
    private func waitForTheView() {
        let topic = Topic.presenceAgents.name
        guard let ends = try? KafkaLatestRecords.endOffsets(configuration: reader, topic: topic) else {
            logger.warning("cannot read the end of presence.agents; taking over without waiting for the view")
            return
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let read = (try? store.database.read { try ConsumerOffsets.load($0, topics: [topic]) })?[topic] ?? [:]
            if ends.allSatisfy({ partition, end in end == 0 || (read[partition] ?? 0) >= end }) { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        logger.warning("the view of presence.agents did not catch up in 10 s; taking over anyway")
    }
}

public enum PresenceApplication {
    public static func services(configuration: PresenceConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: PresenceStore.migrations)
        context.health.set("store", true)
        let reader = configuration.common.consumerConfiguration(groupID: "\(configuration.common.instanceID).reader")
        let partitions = try Self.partitionCounts(reader: reader, logger: logger)
        let agents = try store.database.read { try PresenceStore.load($0, directory: configuration.agents) }
        // Owns nothing until the group assigns partitions; then it announces its agents.
        let state = PresenceState(agents: agents, departments: configuration.departments, gracePeriod: TimeInterval(configuration.gracePeriodSeconds),
                                  connectionTimeout: TimeInterval(configuration.connectionTimeoutSeconds), ownedPartitions: [],
                                  commandPartitions: partitions, producer: configuration.common.instanceID)
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
            // Every instance follows every agent's published state (departments count them all).
            ConsumerLoop(name: "agents", topics: [.presenceAgents], mode: .allPartitions, store: store,
                         common: configuration.common, applier: engine, outbox: outbox, health: context.health, logger: logger),
            ConsumerLoop(name: "commands", topics: [.presenceCommands], mode: .group(groupID: configuration.groupID), store: store,
                         common: configuration.common, applier: engine, outbox: outbox, health: context.health, logger: logger),
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }

    /// `presence.commands` and `presence.agents` must have the same partition count: an
    /// agent's records go to the same partition number in both.
    static func partitionCounts(reader: KafkaConsumerConfiguration, logger: Logger) throws -> Int32 {
        let (commands, agents) = try BrokerRetry.blocking("partition counts", logger: logger) {
            (try KafkaLatestRecords.partitionCount(configuration: reader, topic: Topic.presenceCommands.name),
             try KafkaLatestRecords.partitionCount(configuration: reader, topic: Topic.presenceAgents.name))
        }
        guard commands == agents else {
            throw ConfigurationError(variable: "presence.commands/presence.agents",
                                     problem: "the topics have \(commands) and \(agents) partitions; they must have the same count")
        }
        return commands
    }
}
