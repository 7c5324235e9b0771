import ChatKafka
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import Metrics
import ServiceLifecycle

/// A domain refusal while applying one event: the event is skipped with a log line and
/// changes nothing. Any other error from `apply` is a fault of the store and stops the loop.
public struct RecordRejection: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The logic a `ConsumerLoop` drives. `apply` runs inside the batch's write transaction,
/// which also stores the consumed offsets and any outbox records it appends.
public protocol EventApplier: Sendable {
    associatedtype Effect: Sendable
    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Effect]
    /// A record with no value: on a compacted topic, the deletion of its key.
    func applyTombstone(_ record: KafkaConsumedRecord, in db: Database) throws -> [Effect]
    /// Runs after the transaction committed (push to sockets, resolve waiters...).
    func afterCommit(_ effects: [Effect]) async
    /// Runs at the end of each batch, inside its transaction, after the last `apply`
    /// (e.g. to write one snapshot for the whole batch).
    func batchApplied(in db: Database) throws
    /// Partitions this instance starts owning (group subscriptions only), before their start
    /// offsets are read from the store: the place to restore their state from elsewhere.
    /// Runs on the consumer's own thread; it may block.
    func assigned(_ partitions: [KafkaTopicPartition])
    /// Partitions this instance stops owning (group subscriptions only).
    func revoked(_ partitions: [KafkaTopicPartition])
}

extension EventApplier {
    public func applyTombstone(_ record: KafkaConsumedRecord, in db: Database) throws -> [Effect] { [] }
    public func afterCommit(_ effects: [Effect]) async {}
    public func batchApplied(in db: Database) throws {}
    public func assigned(_ partitions: [KafkaTopicPartition]) {}
    public func revoked(_ partitions: [KafkaTopicPartition]) {}
}

/// Reads topics and applies each new event exactly once to the service's store: offsets,
/// processed event ids and state change commit together, so a crash anywhere resumes at the
/// first unapplied record and a re-sent event changes nothing.
public struct ConsumerLoop<Applier: EventApplier>: Service {
    public enum Mode: Sendable {
        /// Share the topics' partitions with the other members of `groupID`.
        case group(groupID: String)
        /// Read every partition (each instance keeps a full view).
        case allPartitions
    }

    let name: String
    let topics: [Topic]
    let mode: Mode
    let store: ServiceStore
    let common: CommonConfiguration
    let applier: Applier
    let outbox: OutboxPublisher?
    /// Set for services that read personal strings: sealed ones are opened before `apply`.
    let keyring: VisitorKeyring?
    let health: ServiceHealth
    let logger: Logger

    public init(name: String, topics: [Topic], mode: Mode, store: ServiceStore, common: CommonConfiguration,
                applier: Applier, outbox: OutboxPublisher?, keyring: VisitorKeyring? = nil, health: ServiceHealth, logger: Logger) {
        self.name = name
        self.topics = topics
        self.mode = mode
        self.store = store
        self.common = common
        self.applier = applier
        self.outbox = outbox
        self.keyring = keyring
        self.health = health
        self.logger = logger
    }

    private var readinessCheck: String { "consumer.\(name)" }

    public func run() async throws {
        health.set(readinessCheck, false)
        guard let consumer = try await connect() else { return }
        var lastPrune = Date()
        let commitTimer = Metrics.Timer(label: "chat_store_commit_seconds", dimensions: [("consumer", name)])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let records = try await consumer.poll(maxRecords: 500, timeout: .milliseconds(100))
            if records.isEmpty { continue }
            let started = DispatchTime.now()
            let decoded = records.map(decode)
            let owners = sealedOwners(of: decoded)
            await keyring?.awaitKeys(owners)
            let (effects, nextOffsets) = try await store.database.write { db in
                try applyBatch(records, decoded: decoded, owners: owners, in: db)
            }
            commitTimer.recordInterval(since: started)
            outbox?.signal()
            await applier.afterCommit(effects)
            if case .group = mode { consumer.commitAsync(nextOffsets) }
            recordMetrics(records, nextOffsets: nextOffsets, consumer: consumer)
            if Date().timeIntervalSince(lastPrune) > 300 {
                lastPrune = Date()
                try await store.database.write { try ProcessedEvents.prune($0, olderThan: 86_400) }
            }
        }
        await consumer.close()
        health.set(readinessCheck, false)
    }

    /// Creates the consumer, retrying while the broker or its topics are not there yet.
    private func connect() async throws -> KafkaConsumer? {
        let topicNames = topics.map(\.name)
        let store = self.store
        let applier = self.applier
        let logger = self.logger
        let startOffsets: @Sendable ([KafkaTopicPartition]) -> [KafkaTopicPartition: KafkaStartOffset] = { partitions in
            let stored = (try? store.database.read { try ConsumerOffsets.load($0, topics: topicNames) }) ?? [:]
            var offsets: [KafkaTopicPartition: KafkaStartOffset] = [:]
            for partition in partitions {
                offsets[partition] = stored[partition.topic]?[partition.partition].map { .offset($0) } ?? .beginning
            }
            return offsets
        }
        let subscription: KafkaSubscription
        let groupID: String
        var configuration = common.consumerConfiguration(groupID: "")
        switch mode {
        case .group(let group):
            groupID = group
            configuration.staticMemberID = "\(common.instanceID).\(name)"
            let health = self.health
            let check = readinessCheck
            subscription = .group(topics: topicNames, onAssign: { partitions in
                applier.assigned(partitions)
                health.set(check, !partitions.isEmpty)
                return startOffsets(partitions)
            }, onRevoke: { partitions in
                health.set(check, false)
                applier.revoked(partitions)
            })
        case .allPartitions:
            groupID = "\(common.instanceID).\(name)"
            subscription = .allPartitions(topics: topicNames, startOffsets: startOffsets)
        }
        var attempt = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                configuration.groupID = groupID
                let consumer = try KafkaConsumer(configuration: configuration, subscription: subscription, logger: logger)
                logger.info("consuming", metadata: ["topics": "\(topicNames)", "group": "\(groupID)"])
                if case .allPartitions = mode { health.set(readinessCheck, true) }
                return consumer
            } catch {
                attempt += 1
                logger.warning("cannot start consumer yet; retrying", metadata: ["topics": "\(topicNames)", "error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(min(200 * attempt, 2_000)))
            }
        }
        return nil
    }

    private func recordMetrics(_ records: [KafkaConsumedRecord], nextOffsets: [KafkaTopicPartition: Int64], consumer: KafkaConsumer) {
        var perTopic: [String: Int] = [:]
        for record in records { perTopic[record.topic, default: 0] += 1 }
        for (topic, count) in perTopic {
            Counter(label: "chat_records_consumed_total", dimensions: [("topic", topic)]).increment(by: count)
        }
        for (partition, next) in nextOffsets {
            guard let end = consumer.cachedHighWatermark(partition) else { continue }
            Gauge(label: "chat_consumer_lag", dimensions: [("topic", partition.topic), ("partition", "\(partition.partition)")])
                .record(Double(max(0, end - next)))
        }
    }

    private enum Decoded {
        case envelope(Envelope)
        case tombstone
        case unreadable(WireError)
    }

    private func decode(_ record: KafkaConsumedRecord) -> Decoded {
        if record.value.isEmpty { return .tombstone }
        do {
            return .envelope(try WireCodec.decode(record.value))
        } catch {
            return .unreadable(error)
        }
    }

    /// The visitors whose keys open the batch's sealed strings (none without a keyring).
    private func sealedOwners(of batch: [Decoded]) -> Set<String> {
        guard keyring != nil else { return [] }
        var owners: Set<String> = []
        for case .envelope(let envelope) in batch { owners.formUnion(envelope.sealedOwners) }
        return owners
    }

    private func applyBatch(_ records: [KafkaConsumedRecord], decoded: [Decoded], owners: Set<String>,
                            in db: Database) throws -> ([Applier.Effect], [KafkaTopicPartition: Int64]) {
        var effects: [Applier.Effect] = []
        var nextOffsets: [KafkaTopicPartition: Int64] = [:]
        let keys = try keyring?.keys(for: owners, in: db) ?? [:]
        for (record, decoded) in zip(records, decoded) {
            nextOffsets[record.topicPartition] = record.offset + 1
            let position: Logger.Metadata = ["topic": "\(record.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)"]
            var envelope: Envelope
            switch decoded {
            case .envelope(let read):
                envelope = read
            case .tombstone:
                effects += try applier.applyTombstone(record, in: db)
                continue
            case .unreadable(let error):
                logger.warning("skipping unreadable record", metadata: position.merging(["error": "\(error)"]) { $1 })
                Counter(label: "chat_records_skipped_total", dimensions: [("topic", record.topic), ("reason", error.code.rawValue)]).increment()
                continue
            }
            if !owners.isEmpty { envelope.open(with: keys) }
            guard try ProcessedEvents.markNew(db, eventID: envelope.id) else {
                logger.debug("skipping duplicate event", metadata: position.merging(["event": "\(envelope.id)"]) { $1 })
                continue
            }
            do {
                var produced: [Applier.Effect] = []
                try db.inSavepoint {
                    produced = try applier.apply(envelope, record: record, in: db)
                    return .commit
                }
                effects += produced
                logger.debug("applied event", metadata: position.merging([
                    "event": "\(envelope.id)", "type": "\(envelope.type.rawValue)", "correlationId": "\(envelope.correlationID ?? envelope.id)",
                ]) { $1 })
            } catch let rejection as RecordRejection {
                Counter(label: "chat_records_skipped_total", dimensions: [("topic", record.topic), ("reason", "rejected")]).increment()
                logger.warning("rejected event", metadata: position.merging([
                    "event": "\(envelope.id)", "type": "\(envelope.type.rawValue)", "reason": "\(rejection.reason)",
                    "correlationId": "\(envelope.correlationID ?? envelope.id)",
                ]) { $1 })
            }
        }
        try applier.batchApplied(in: db)
        for (partition, next) in nextOffsets {
            try ConsumerOffsets.store(db, topic: partition.topic, partition: partition.partition, nextOffset: next)
        }
        return (effects, nextOffsets)
    }
}
