import ChatKafka
import ChatOps
import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import Metrics
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
                               offerTimeoutSeconds: try environment.int("ROUTER_OFFER_TIMEOUT_SECONDS", default: 0, range: 0...3_600),
                               visitorGoneSeconds: try environment.int("ROUTER_VISITOR_GONE_SECONDS", default: 60, range: 0...86_400))
    }

    public var storePath: String { "\(common.dataDirectory)/router.sqlite" }
}

/// Applies router commands and presence changes to the router state and its store, and
/// keeps the changelog: after each batch, one snapshot per changed partition goes to the
/// outbox ahead of the events it explains (docs/architecture.md, "Router scale-out").
final class RouterApplier: EventApplier {
    typealias Effect = Never

    /// Changes of the batch in progress, written out by `flush`.
    private struct Pending {
        var records: [Int32: [WireRecord]] = [:]
        var touched: Set<Int32> = []
        var nextCommandOffsets: [Int32: Int64] = [:]
        var answered: [Int32: [String]] = [:]
    }

    private struct Guarded {
        var state: RouterState
        var pending = Pending()
    }

    private let guarded: Mutex<Guarded>
    private let producerName: String
    private let store: ServiceStore
    private let outbox: OutboxPublisher
    private let changelog: RouterChangelog
    private let logger: Logger

    init(state: RouterState, producerName: String, store: ServiceStore, outbox: OutboxPublisher, changelog: RouterChangelog, logger: Logger) {
        guarded = Mutex(Guarded(state: state))
        self.producerName = producerName
        self.store = store
        self.outbox = outbox
        self.changelog = changelog
        self.logger = logger
    }

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        if record.topic == Topic.routerChangelog.name {
            guard case .routerPartitionSnapshot(let snapshot) = envelope.event else { return [] }
            try guarded.withLock { guarded in
                guard !guarded.state.ownedPartitions.contains(snapshot.partition) else { return }
                try step(&guarded, in: db, commandPartition: nil) { $0.noteRemote(snapshot, producer: producerName, now: Date()) }
                try RouterStore.saveRemoteChats(db, partition: snapshot.partition, chats: snapshot.chats)
            }
            return []
        }
        if case .visitorErasureRequested(let erasure) = envelope.event {
            // A6: written to every partition; each owner forgets the visitor's ended chats
            // of its own (the gateway refuses an erasure while a chat is open).
            try RouterStore.forgetClosedChats(db, visitorId: erasure.visitorId, partition: record.partition)
            // A new snapshot of the partition replaces the last one on the compacted
            // changelog, which may name the visitor (a chat they closed, in `published`).
            try guarded.withLock { guarded in
                guarded.pending.nextCommandOffsets[record.partition] = record.offset + 1
                try step(&guarded, in: db, commandPartition: record.partition) { $0.forgetVisitor(erasure.visitorId, partition: record.partition) }
                guarded.pending.touched.insert(record.partition)
            }
            Task { [store] in await store.truncateLog() }  // runs once this transaction committed
            return []
        }
        let commandPartition = record.topic == Topic.chatCommands.name ? record.partition : nil
        try guarded.withLock { guarded in
            if let commandPartition { guarded.pending.nextCommandOffsets[commandPartition] = record.offset + 1 }
            try step(&guarded, in: db, commandPartition: commandPartition) { state in
                state.handle(envelope, partition: commandPartition, producer: producerName, now: Date()) { chatId in
                    (try? RouterStore.isClosed(db, chatId: chatId)) ?? false
                }
            }
        }
        return []
    }

    func batchApplied(in db: Database) throws {
        try guarded.withLock { try flush(&$0, in: db) }
    }

    /// Offers whose time ran out go to the next agent; chats whose visitor left end.
    func runTimers(in db: Database, now: Date) throws {
        try guarded.withLock { guarded in
            try step(&guarded, in: db, commandPartition: nil) { $0.expireOffers(now: now, producer: producerName) }
            try step(&guarded, in: db, commandPartition: nil) { $0.closeAbandonedChats(now: now, producer: producerName) }
            try flush(&guarded, in: db)
        }
    }

    /// Runs a decision and writes what it saved; what it publishes waits in `pending` for
    /// the batch's snapshot. The new state is kept only if every write succeeded (the
    /// store's writer lock serialises callers; the mutex guards the shared state).
    private func step(_ guarded: inout Guarded, in db: Database, commandPartition: Int32?, _ decide: (inout RouterState) -> [RouterAction]) throws {
        var next = guarded.state
        var pending = guarded.pending
        let actions = decide(&next)
        // Proposals belong to the snapshot of their agent's home partition.
        for id in Set(next.proposals.keys).symmetricDifference(guarded.state.proposals.keys) {
            if let proposal = next.proposals[id] ?? guarded.state.proposals[id] {
                pending.touched.insert(next.homePartition(of: proposal.agentId))
            }
        }
        var partitionOfChat: [String: Int32] = [:]
        for case .saveChat(let chat) in actions { partitionOfChat[chat.id] = chat.partition }
        for action in actions {
            switch action {
            case .proposalAnswered(let id):
                let partition = commandPartition ?? 0
                pending.answered[partition, default: []].append(id)
                pending.touched.insert(partition)
            case .publish(let record):
                let chatId = record.envelope.event.chatId ?? ""
                var known = partitionOfChat[chatId] ?? next.openChats[chatId]?.partition ?? commandPartition
                if case .chatAssignmentProposed(let proposal) = record.envelope.event { known = next.homePartition(of: proposal.agent.id) }
                let partition = try known ?? RouterStore.partition(db, chatId: chatId) ?? 0
                pending.records[partition, default: []].append(record)
                pending.touched.insert(partition)
                if case .chatAssigned(let assigned) = record.envelope.event {
                    Counter(label: "chat_assignments_total", dimensions: [("reason", assigned.reason.rawValue)]).increment()
                    if let queuedAt = next.openChats[chatId]?.queuedAt {
                        Metrics.Timer(label: "chat_queue_wait_seconds", dimensions: [("department", assigned.departmentId)])
                            .recordNanoseconds(Int64(max(0, record.envelope.occurredAt.timeIntervalSince(queuedAt)) * 1e9))
                    }
                }
                logger.info("decided", metadata: [
                    "event": "\(record.envelope.type.rawValue)", "chatId": "\(chatId)", "partition": "\(partition)",
                    "eventId": "\(record.envelope.id)", "correlationId": "\(record.envelope.correlationID ?? "-")",
                ])
            case .saveChat(let chat):
                pending.touched.insert(chat.partition)
                try RouterStore.apply(action, in: db)
            default:
                try RouterStore.apply(action, in: db)
            }
        }
        guarded.state = next
        guarded.pending = pending
    }

    /// For each partition the batch changed: its snapshot, then the records it published,
    /// in that order, into the outbox.
    private func flush(_ guarded: inout Guarded, in db: Database) throws {
        let pending = guarded.pending
        guard !pending.touched.isEmpty else { return }
        guarded.pending = Pending()
        // Stored offsets only for partitions this batch read no command of (presence, timers).
        let needsStored = pending.touched.contains { pending.nextCommandOffsets[$0] == nil }
        let storedOffsets = needsStored ? try ConsumerOffsets.load(db, topics: [Topic.chatCommands.name])[Topic.chatCommands.name] ?? [:] : [:]
        for partition in pending.touched.sorted() {
            let position = try RouterStore.position(db, partition: partition)
            let records = pending.records[partition] ?? []
            let snapshot = RouterPartitionSnapshot(
                partition: partition, epoch: position.epoch, sequence: position.sequence + 1,
                nextCommandOffset: pending.nextCommandOffsets[partition] ?? storedOffsets[partition] ?? 0,
                chats: guarded.state.chats(in: partition), published: records.map(RouterPartitionSnapshot.PublishedRecord.init),
                answeredProposals: pending.answered[partition] ?? [], proposals: guarded.state.proposals(homedIn: partition))
            try changelog.record(snapshot, producer: producerName).appendToOutbox(db)
            for record in records { try record.appendToOutbox(db) }
            try RouterStore.savePosition(db, partition: partition, epoch: snapshot.epoch, sequence: snapshot.sequence)
        }
    }

    /// Takes over `chat.commands` partitions: each one's state is the newer of this store's
    /// and the changelog's latest snapshot; then a new epoch fences off the previous owner,
    /// and presence changes the previous owner may have missed are applied.
    func assigned(_ partitions: [KafkaTopicPartition]) {
        let owned = partitions.partitions(of: .chatCommands).sorted()
        guard !owned.isEmpty else { return }
        let latest = changelog.latestSnapshots(of: owned)
        do {
            try store.database.write { db in
                try guarded.withLock { guarded in
                    for partition in owned {
                        let local = try RouterStore.position(db, partition: partition)
                        let chats: [RoutedChat]
                        var proposals: [RouterPartitionSnapshot.AssignmentProposal] = []
                        var epochBefore = local.epoch
                        if let snapshot = latest[partition], snapshot.isNewer(than: local) {
                            chats = snapshot.chats
                            proposals = snapshot.proposals
                            epochBefore = snapshot.epoch
                            try RouterStore.replaceOpenChats(db, partition: partition, with: chats)
                            try ConsumerOffsets.store(db, topic: Topic.chatCommands.name, partition: partition, nextOffset: snapshot.nextCommandOffset)
                            // The previous owner may have died before publishing these.
                            for published in snapshot.published { try published.record?.appendToOutbox(db) }
                            logger.info("partition restored from the changelog", metadata: [
                                "partition": "\(partition)", "chats": "\(chats.count)", "epoch": "\(snapshot.epoch)",
                                "sequence": "\(snapshot.sequence)", "nextCommandOffset": "\(snapshot.nextCommandOffset)",
                            ])
                        } else {
                            chats = try RouterStore.openChats(db, partition: partition)
                            proposals = latest[partition]?.proposals ?? []
                            epochBefore = max(local.epoch, latest[partition]?.epoch ?? 0)
                        }
                        guarded.state.adopt(partition: partition, chats: chats, proposals: proposals)
                        // Epochs grow with time too, so two owners never share one.
                        let epoch = max(epochBefore + 1, Int64(Date().timeIntervalSince1970 * 1_000))
                        try RouterStore.savePosition(db, partition: partition, epoch: epoch, sequence: 0)
                        guarded.pending.touched.insert(partition)
                    }
                    try step(&guarded, in: db, commandPartition: nil) { $0.reconcile(producer: producerName, now: Date()) }
                    try flush(&guarded, in: db)
                }
            }
        } catch {
            // Without its store the router cannot serve; stopping lets the group move on.
            logger.critical("cannot take over partitions", metadata: ["partitions": "\(owned)", "error": "\(error)"])
            exit(1)
        }
        outbox.signal()
    }

    /// Stops acting on the partitions at once, then waits until the last snapshots are
    /// published, so their next owner starts from them.
    func revoked(_ partitions: [KafkaTopicPartition]) {
        let released = partitions.partitions(of: .chatCommands)
        guard !released.isEmpty else { return }
        guarded.withLock { $0.state.release(partitions: released) }
        outbox.publishBeforeHandOver(released)
    }
}

/// Builds the router's services: producer, outbox publisher and the consumer loops.
public enum RouterApplication {
    public static func services(configuration: RouterConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: RouterStore.migrations)
        context.health.set("store", true)
        let changelog = RouterChangelog(configuration: configuration.common.consumerConfiguration(groupID: "\(configuration.common.instanceID).changelog-reader"),
                                        logger: logger)
        try changelog.dropStaleOutbox(in: store)
        let commandPartitions = changelog.partitionCount(of: .chatCommands)
        let state = try store.database.read { try RouterStore.loadState($0, policy: configuration.policy, commandPartitions: commandPartitions) }
        logger.info("router state loaded", metadata: ["agents": "\(state.agents.count)", "openDepartments": "\(state.openDepartments.count)"])
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let outbox = OutboxPublisher(store: store, producer: producer, logger: logger)
        let applier = RouterApplier(state: state, producerName: configuration.common.instanceID, store: store, outbox: outbox,
                                    changelog: changelog, logger: logger)
        // Offers expire and abandoned chats end on a timer, when either is on.
        let offerClock: [any Service] = configuration.policy.offerTimeoutSeconds > 0 || configuration.policy.visitorGoneSeconds > 0
            ? [PeriodicTask(every: .milliseconds(250), store: store, outbox: outbox) { db, now in try applier.runTimers(in: db, now: now) }]
            : []
        return [
            ProducerService(producer: producer),
            outbox,
        ] + offerClock + [
            // Presence and phone calls concern agents of every partition: every instance reads all.
            ConsumerLoop(name: "presence", topics: [.presenceDepartments, .presenceAgents, .telephonyCalls], mode: .allPartitions, store: store,
                         common: configuration.common, applier: applier, outbox: outbox, health: context.health, logger: logger),
            // Every instance reads every partition's snapshots: agents' loads across instances.
            ConsumerLoop(name: "changelog", topics: [.routerChangelog], mode: .allPartitions, store: store,
                         common: configuration.common, applier: applier, outbox: outbox, health: context.health, logger: logger),
            ConsumerLoop(name: "commands", topics: [.chatCommands], mode: .group(groupID: configuration.groupID), store: store,
                         common: configuration.common, applier: applier, outbox: outbox, health: context.health, logger: logger),
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }
}
