import CRDKafka
import Foundation

/// Reads the newest record of some partitions of a topic (a changelog's latest state).
/// Blocking: it makes a short-lived consumer, asks the broker for each partition's end and
/// fetches the record just before it. Call it on a thread of its own, not the cooperative
/// pool (a rebalance callback's thread is fine).
public enum KafkaLatestRecords {
    /// Each partition's end offset (the offset the next record will get). Blocking.
    public static func endOffsets(configuration: KafkaConsumerConfiguration, topic: String) throws -> [Int32: Int64] {
        let client = try RDKafkaClient(kind: .consumer, properties: configuration.properties)
        let count = try client.partitionCount(topic: topic, timeoutMilliseconds: 5_000)
        var ends: [Int32: Int64] = [:]
        for partition in 0..<count {
            var low: Int64 = 0
            var high: Int64 = 0
            let error = client.withHandle { rd_kafka_query_watermark_offsets($0, topic, partition, &low, &high, 5_000) }
            if error.isError { throw KafkaError(code: error, context: "read the end of \(topic)[\(partition)]") }
            ends[partition] = high
        }
        return ends
    }

    /// The number of partitions of `topic`, from a metadata request. Blocking.
    public static func partitionCount(configuration: KafkaConsumerConfiguration, topic: String) throws -> Int32 {
        let client = try RDKafkaClient(kind: .consumer, properties: configuration.properties)
        return try client.partitionCount(topic: topic, timeoutMilliseconds: 5_000)
    }

    public static func read(configuration: KafkaConsumerConfiguration, topic: String, partitions: [Int32],
                            timeout: Duration = .seconds(10)) throws -> [Int32: KafkaConsumedRecord] {
        guard !partitions.isEmpty else { return [:] }
        let client = try RDKafkaClient(kind: .consumer, properties: configuration.properties)
        client.withHandle { _ = rd_kafka_poll_set_consumer($0) }
        // Never joined a group: closing only stops the fetchers.
        defer { client.withHandle { _ = rd_kafka_consumer_close($0) } }
        let deadline = ContinuousClock.now + timeout
        let timeoutMilliseconds = Int32(min(timeout.components.seconds * 1_000, 60_000))
        var lastOffsets: [Int32: Int64] = [:]
        for partition in partitions {
            var low: Int64 = 0
            var high: Int64 = 0
            let error = client.withHandle { rd_kafka_query_watermark_offsets($0, topic, partition, &low, &high, timeoutMilliseconds) }
            if error.isError { throw KafkaError(code: error, context: "read the end of \(topic)[\(partition)]") }
            if high > low { lastOffsets[partition] = high - 1 }
        }
        guard !lastOffsets.isEmpty else { return [:] }
        let list = TopicPartitionList(lastOffsets.keys.map { KafkaTopicPartition(topic: topic, partition: $0) },
                                      offsets: Dictionary(uniqueKeysWithValues: lastOffsets.map { (KafkaTopicPartition(topic: topic, partition: $0.key), .offset($0.value)) }))
        let assigned = client.withHandle { handle in list.withPointer { rd_kafka_assign(handle, $0) } }
        if assigned.isError { throw KafkaError(code: assigned, context: "assign \(topic)") }
        var found: [Int32: KafkaConsumedRecord] = [:]
        while found.count < lastOffsets.count {
            guard ContinuousClock.now < deadline else {
                throw KafkaError(code: RD_KAFKA_RESP_ERR__TIMED_OUT, context: "read the newest records of \(topic)")
            }
            guard let message = client.withHandle({ rd_kafka_consumer_poll($0, 100) }) else { continue }
            defer { rd_kafka_message_destroy(message) }
            guard !message.pointee.err.isError else { continue }
            let record = KafkaConsumedRecord(message: message.pointee)
            if lastOffsets[record.partition] == record.offset { found[record.partition] = record }
        }
        return found
    }
}
