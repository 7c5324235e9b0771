/// A record to produce. Records with the same key go to the same partition, in order.
public struct KafkaOutgoingRecord: Sendable, Equatable {
    public var topic: String
    public var key: [UInt8]
    public var value: [UInt8]
    /// An explicit partition, for records every partition's owner must see; nil lets the
    /// key choose.
    public var partition: Int32?
    /// A record with no value at all (not an empty one): on a compacted topic it deletes
    /// the key's earlier records.
    public private(set) var isTombstone = false

    public init(topic: String, key: [UInt8], value: [UInt8], partition: Int32? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.partition = partition
    }

    public static func tombstone(topic: String, key: String) -> KafkaOutgoingRecord {
        var record = KafkaOutgoingRecord(topic: topic, key: key, value: [])
        record.isTombstone = true
        return record
    }

    public init(topic: String, key: String, value: [UInt8], partition: Int32? = nil) {
        self.init(topic: topic, key: Array(key.utf8), value: value, partition: partition)
    }
}

/// A record read from a partition.
public struct KafkaConsumedRecord: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    /// Broker or producer timestamp in milliseconds since 1970, when the broker gave one.
    public var timestampMilliseconds: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestampMilliseconds: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestampMilliseconds = timestampMilliseconds
    }

    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }
}

public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// Where a consumer starts reading an assigned partition.
public enum KafkaStartOffset: Sendable, Equatable {
    case beginning
    case end
    /// The next offset to read (one past the last one processed).
    case offset(Int64)
}

/// Where a delivered record landed.
public struct KafkaDeliveryReport: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}
