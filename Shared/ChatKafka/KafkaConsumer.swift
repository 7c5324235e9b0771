import CRDKafka
import Foundation
import Logging
import Synchronization

/// What a consumer reads.
public enum KafkaSubscription: Sendable {
    /// Join the consumer group and share the topics' partitions with its other members.
    /// `onAssign` returns where to start each newly assigned partition (from the service's
    /// own store); `onRevoke` is called before the partitions go to another member, at a
    /// point where no record of them is being processed.
    case group(topics: [String], onAssign: @Sendable ([KafkaTopicPartition]) -> [KafkaTopicPartition: KafkaStartOffset],
               onRevoke: @Sendable ([KafkaTopicPartition]) -> Void)
    /// Read every partition of the topics, without a group (each instance sees everything).
    /// `startOffsets` is asked once the partitions are known.
    case allPartitions(topics: [String], startOffsets: @Sendable ([KafkaTopicPartition]) -> [KafkaTopicPartition: KafkaStartOffset])
}

/// A Kafka consumer whose blocking calls (poll, assign, close) all run on one serial
/// Dispatch queue of its own, never on Swift's cooperative pool. Offsets are not committed
/// to Kafka by the consumer: services keep them in their own store.
public final class KafkaConsumer: Sendable {
    private let client: RDKafkaClient
    private let callbacks: RebalanceCallbacks
    private let queue = DispatchQueue(label: "kafka-consumer")
    private let logger: Logger
    private let closed = Atomic<Bool>(false)

    public init(configuration: KafkaConsumerConfiguration, subscription: KafkaSubscription, logger: Logger) throws {
        self.logger = logger
        let callbacks = RebalanceCallbacks(subscription: subscription, logger: logger)
        self.callbacks = callbacks
        let isGroup: Bool
        if case .group = subscription { isGroup = true } else { isGroup = false }
        client = try RDKafkaClient(kind: .consumer, properties: configuration.properties) { conf in
            guard isGroup else { return }
            // The callbacks object lives as long as this consumer, which destroys the
            // handle (in `RDKafkaClient.deinit`) before releasing it: the unretained
            // pointer never dangles while librdkafka may call back.
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
            rd_kafka_conf_set_rebalance_cb(conf) { handle, error, partitions, opaque in
                guard let handle, let opaque else { return }
                Unmanaged<RebalanceCallbacks>.fromOpaque(opaque).takeUnretainedValue()
                    .rebalance(handle: handle, error: error, partitions: partitions)
            }
        }
        client.withHandle { _ = rd_kafka_poll_set_consumer($0) }
        switch subscription {
        case .group(let topics, _, _):
            let list = TopicPartitionList(topics.map { KafkaTopicPartition(topic: $0, partition: crdkafka_partition_unassigned) })
            let error = client.withHandle { handle in list.withPointer { rd_kafka_subscribe(handle, $0) } }
            if error.isError { throw KafkaError(code: error, context: "subscribe to \(topics)") }
        case .allPartitions(let topics, let startOffsets):
            var partitions: [KafkaTopicPartition] = []
            for topic in topics {
                let count = try client.partitionCount(topic: topic, timeoutMilliseconds: 10_000)
                partitions += (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) }
            }
            let list = TopicPartitionList(partitions, offsets: startOffsets(partitions))
            let error = client.withHandle { handle in list.withPointer { rd_kafka_assign(handle, $0) } }
            if error.isError { throw KafkaError(code: error, context: "assign \(topics)") }
        }
    }

    /// Waits up to `timeout` for records and returns at most `maxRecords` of them, in
    /// partition order. Returns an empty batch on timeout. Rebalance callbacks run inside
    /// this call, so they never overlap the processing of a batch the caller holds.
    public func poll(maxRecords: Int = 500, timeout: Duration = .milliseconds(100)) async throws -> [KafkaConsumedRecord] {
        guard !closed.load(ordering: .acquiring) else { throw KafkaError.shutDown }
        let timeoutMilliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await runBlocking(on: queue) { [client, logger] in
            var records: [KafkaConsumedRecord] = []
            var wait = timeoutMilliseconds
            while records.count < maxRecords {
                guard let message = client.withHandle({ rd_kafka_consumer_poll($0, wait) }) else { break }
                defer { rd_kafka_message_destroy(message) }
                wait = 0
                let error = message.pointee.err
                if error.isError {
                    // Transient broker and partition errors are retried by librdkafka; we log them.
                    logger.warning("consumer error", metadata: ["error": "\(KafkaError(code: error, context: "consume"))"])
                    continue
                }
                records.append(KafkaConsumedRecord(message: message.pointee))
            }
            return records
        }
    }

    /// Commits offsets to Kafka without waiting, so lag shows in Kafka tools. The
    /// service's own store stays the truth for where it resumes.
    public func commitAsync(_ nextOffsets: [KafkaTopicPartition: Int64]) {
        guard !nextOffsets.isEmpty, !closed.load(ordering: .acquiring) else { return }
        let list = TopicPartitionList(Array(nextOffsets.keys), offsets: nextOffsets.mapValues { .offset($0) })
        queue.async { [client] in
            _ = client.withHandle { handle in list.withPointer { rd_kafka_commit(handle, $0, 1) } }
        }
    }

    /// The partition's log end as of the last fetch (no broker round trip), for lag metrics.
    public func cachedHighWatermark(_ partition: KafkaTopicPartition) -> Int64? {
        var low: Int64 = 0
        var high: Int64 = 0
        let error = client.withHandle { rd_kafka_get_watermark_offsets($0, partition.topic, partition.partition, &low, &high) }
        return error.isError || high < 0 ? nil : high
    }

    /// Leaves the group (revoking partitions through the callback) and stops fetching.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = try? await runBlocking(on: queue) { [client] in
            client.withHandle { _ = rd_kafka_consumer_close($0) }
        }
    }
}

/// Context for librdkafka's rebalance callback.
final class RebalanceCallbacks: Sendable {
    let subscription: KafkaSubscription
    let logger: Logger

    init(subscription: KafkaSubscription, logger: Logger) {
        self.subscription = subscription
        self.logger = logger
    }

    func rebalance(handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard case .group(_, let onAssign, let onRevoke) = subscription else { return }
        let assigned = TopicPartitionList.read(partitions)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let offsets = onAssign(assigned)
            logger.info("partitions assigned", metadata: ["partitions": "\(assigned.sorted())"])
            let list = TopicPartitionList(assigned, offsets: offsets)
            list.withPointer { pointer in
                if cooperative { _ = rd_kafka_incremental_assign(handle, pointer) } else { _ = rd_kafka_assign(handle, pointer) }
            }
        default:
            logger.info("partitions revoked", metadata: ["partitions": "\(assigned.sorted())"])
            onRevoke(assigned)
            if cooperative {
                _ = rd_kafka_incremental_unassign(handle, partitions)
            } else {
                _ = rd_kafka_assign(handle, nil)
            }
        }
    }
}

/// An owned `rd_kafka_topic_partition_list_t`, destroyed with this value's box.
final class TopicPartitionList: @unchecked Sendable {
    // Safe to share: the list is built once in `init` and only read afterwards.
    private let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ partitions: [KafkaTopicPartition], offsets: [KafkaTopicPartition: KafkaStartOffset] = [:]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(pointer, partition.topic, partition.partition)
            switch offsets[partition] {
            case .beginning?: element?.pointee.offset = crdkafka_offset_beginning
            case .end?: element?.pointee.offset = crdkafka_offset_end
            case .offset(let next)?: element?.pointee.offset = next
            case nil: element?.pointee.offset = crdkafka_offset_beginning
            }
        }
    }

    func withPointer<Result>(_ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Result) -> Result {
        body(pointer)
    }

    static func read(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaTopicPartition] {
        guard let list, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            KafkaTopicPartition(topic: String(cString: elements[index].topic), partition: elements[index].partition)
        }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }
}

extension KafkaConsumedRecord {
    init(message: rd_kafka_message_t) {
        let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
        let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        var messageCopy = message
        let timestamp = rd_kafka_message_timestamp(&messageCopy, &timestampType)
        self.init(
            topic: String(cString: rd_kafka_topic_name(message.rkt)),
            partition: message.partition,
            offset: message.offset,
            key: key,
            value: value,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp
        )
    }
}
