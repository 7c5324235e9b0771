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

/// The router's configuration, read from the environment in one place.
public struct RouterConfiguration: Sendable {
    public var common: CommonConfiguration
    /// `ROUTER_GROUP_ID`: consumer group shared by all router instances.
    public var groupID: String
    /// `ROUTER_ASSIGNMENT` (`manual` or `automatic`) and `ROUTER_MAX_CHATS_PER_AGENT`.
    public var policy: RoutingPolicy

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "router", environment: environment)
        groupID = try environment.string("ROUTER_GROUP_ID", default: "router")
        let assignment = try environment.string("ROUTER_ASSIGNMENT", default: "manual")
        guard let mode = RoutingPolicy.Assignment(rawValue: assignment) else {
            throw ConfigurationError(variable: "ROUTER_ASSIGNMENT", problem: "must be manual or automatic, got '\(assignment)'")
        }
        policy = RoutingPolicy(assignment: mode, maxChatsPerAgent: try environment.int("ROUTER_MAX_CHATS_PER_AGENT", default: 3, range: 1...100),
                               offerTimeoutSeconds: try environment.int("ROUTER_OFFER_TIMEOUT_SECONDS", default: 0, range: 0...3_600))
    }

    public var storePath: String { "\(common.dataDirectory)/router.sqlite" }
}

/// Applies router commands and presence changes to the router state and its store.
final class RouterApplier: EventApplier {
    typealias Effect = Never
    private let state: Mutex<RouterState>
    private let producerName: String
    private let logger: Logger

    init(state: RouterState, producerName: String, logger: Logger) {
        self.state = Mutex(state)
        self.producerName = producerName
        self.logger = logger
    }

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        try step(in: db) { state in
            state.handle(envelope, producer: producerName, now: Date()) { chatId in
                (try? RouterStore.isClosed(db, chatId: chatId)) ?? false
            }
        }
        return []
    }

    /// Offers whose time ran out go to the next agent.
    func expireOffers(in db: Database, now: Date) throws {
        try step(in: db) { $0.expireOffers(now: now, producer: producerName) }
    }

    /// The store's writer lock serialises calls; the mutex makes the state safe to share
    /// between the consumer loops and the timer. The new state is kept only if every write
    /// succeeded.
    private func step(in db: Database, _ decide: (inout RouterState) -> [RouterAction]) throws {
        let decided = try state.withLock { current in
            var next = current
            let actions = decide(&next)
            for action in actions { try RouterStore.apply(action, in: db) }
            current = next
            return actions
        }
        // Every event the router publishes is a decision; its correlation id leads back to
        // the gateway request that caused it.
        for case .publish(let record) in decided {
            logger.info("decided", metadata: [
                "event": "\(record.envelope.type.rawValue)", "chatId": "\(record.envelope.event.chatId ?? "-")",
                "eventId": "\(record.envelope.id)", "correlationId": "\(record.envelope.correlationID ?? "-")",
            ])
        }
    }
}

/// Builds the router's services: producer, outbox publisher and the two consumer loops.
public enum RouterApplication {
    public static func services(configuration: RouterConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: RouterStore.migrations)
        context.health.set("store", true)
        let state = try store.database.read { try RouterStore.loadState($0, policy: configuration.policy) }
        logger.info("router state loaded", metadata: ["openChats": "\(state.openChats.count)", "openDepartments": "\(state.openDepartments.count)"])
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let outbox = OutboxPublisher(store: store, producer: producer, logger: logger)
        let applier = RouterApplier(state: state, producerName: configuration.common.instanceID, logger: logger)
        // Offers expire on a timer, only when offers are on.
        let offerClock: [any Service] = configuration.policy.offerTimeoutSeconds > 0
            ? [PeriodicTask(every: .milliseconds(250), store: store, outbox: outbox) { db, now in try applier.expireOffers(in: db, now: now) }]
            : []
        return [
            ProducerService(producer: producer),
            outbox,
        ] + offerClock + [
            ConsumerLoop(name: "presence", topics: [.presenceDepartments, .presenceAgents], mode: .allPartitions, store: store,
                         common: configuration.common, applier: applier, outbox: outbox, health: context.health, logger: logger),
            ConsumerLoop(name: "commands", topics: [.chatCommands], mode: .group(groupID: configuration.groupID), store: store,
                         common: configuration.common, applier: applier, outbox: outbox, health: context.health, logger: logger),
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }
}
