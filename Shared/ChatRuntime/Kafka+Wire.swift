import ChatKafka
import ChatStore
import ChatWire
import GRDB
import Logging

typealias WireIDCheck = WireID

extension CommonConfiguration {
    public func producerConfiguration() -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: kafkaBootstrap, clientID: instanceID))
        configuration.lingerMilliseconds = lingerMilliseconds
        // The flush is the last step of a stop; it gets half of the stop's time bound.
        configuration.flushTimeoutMilliseconds = min(10_000, shutdownTimeoutSeconds * 500)
        return configuration
    }

    public func consumerConfiguration(groupID: String) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(client: KafkaClientConfiguration(bootstrapServers: kafkaBootstrap, clientID: instanceID), groupID: groupID)
        configuration.fetchWaitMaxMilliseconds = fetchWaitMilliseconds
        configuration.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        return configuration
    }
}

extension WireRecord {
    public var kafkaRecord: KafkaOutgoingRecord {
        KafkaOutgoingRecord(topic: topic.name, key: key, value: WireCodec.encode(wireEnvelope), partition: partition)
    }

    /// Adds this record to the store's outbox, inside the caller's transaction.
    public func appendToOutbox(_ db: Database) throws {
        try Outbox.append(db, topic: topic.name, key: Array(key.utf8), partition: partition, value: WireCodec.encode(wireEnvelope))
    }
}

extension KafkaProducer {
    /// Produces a wire record and waits for the broker's acknowledgement.
    @discardableResult
    public func send(_ record: WireRecord) async throws -> KafkaDeliveryReport {
        try await send(record.kafkaRecord)
    }
}

extension Logger {
    /// A logger with the service's label, level and format, writing to standard error.
    public static func service(_ label: String, level: Logger.Level, format: CommonConfiguration.LogFormat) -> Logger {
        var logger = Logger(label: label) { label -> any LogHandler in
            format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = level
        return logger
    }
}

extension Sequence where Element == KafkaTopicPartition {
    /// The partition numbers of `topic` among these (an assignment or a revocation).
    public func partitions(of topic: Topic) -> Set<Int32> {
        Set(filter { $0.topic == topic.name }.map(\.partition))
    }
}
