/// Settings shared by producers and consumers. Typed fields carry the defaults we rely on;
/// `overrides` is the escape hatch for any other librdkafka property.
public struct KafkaClientConfiguration: Sendable, Equatable {
    public var bootstrapServers: String
    public var clientID: String
    /// Raw librdkafka properties applied last, so they win over the typed fields.
    public var overrides: [String: String]

    public init(bootstrapServers: String, clientID: String, overrides: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.overrides = overrides
    }

    var properties: [String: String] {
        [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
            // The embedded broker and a local Kafka both answer in milliseconds; a short
            // reconnect backoff makes a broker restart heal quickly.
            "reconnect.backoff.ms": "50",
            "reconnect.backoff.max.ms": "2000",
        ]
    }
}

public struct KafkaProducerConfiguration: Sendable, Equatable {
    public var client: KafkaClientConfiguration
    /// How long the producer waits to batch records. Batching is what keeps the embedded
    /// broker fast (single-record requests cost it a lot of CPU); 2 ms costs little latency.
    public var lingerMilliseconds: Int = 2
    /// Idempotence gives exactly-once, in-order appends per partition across retries.
    public var idempotent: Bool = true
    /// How long a record may wait for delivery before its report says it failed.
    public var messageTimeoutMilliseconds: Int = 30_000
    /// How long `shutdown()` flushes records in flight before it drops the rest. Keep it
    /// inside the service's shutdown bound: an unreachable broker must not hold the stop.
    public var flushTimeoutMilliseconds: Int = 10_000

    public init(client: KafkaClientConfiguration) {
        self.client = client
    }

    var properties: [String: String] {
        var properties = client.properties
        properties["linger.ms"] = String(lingerMilliseconds)
        properties["enable.idempotence"] = idempotent ? "true" : "false"
        properties["acks"] = "all"
        properties["message.timeout.ms"] = String(messageTimeoutMilliseconds)
        properties["compression.type"] = "none"
        return properties.merging(client.overrides) { _, override in override }
    }
}

public struct KafkaConsumerConfiguration: Sendable, Equatable {
    public var client: KafkaClientConfiguration
    /// Consumer group. Group members split partitions; a `partitions` subscription uses it
    /// only as an identity (nothing is committed to Kafka on its behalf).
    public var groupID: String
    /// The embedded broker does not wake a waiting fetch when data arrives, so this bounds
    /// end-to-end latency there (about half of it on average).
    public var fetchWaitMaxMilliseconds: Int = 10
    /// librdkafka's 45 s default makes group joins and failover take tens of seconds.
    public var sessionTimeoutMilliseconds: Int = 6_000
    public var heartbeatIntervalMilliseconds: Int = 1_000
    /// Static group membership (`group.instance.id`): an instance that restarts under the
    /// same id takes its partitions back at once instead of waiting out its old session.
    public var staticMemberID: String?

    public init(client: KafkaClientConfiguration, groupID: String) {
        self.client = client
        self.groupID = groupID
    }

    var properties: [String: String] {
        var properties = client.properties
        properties["group.id"] = groupID
        properties["fetch.wait.max.ms"] = String(fetchWaitMaxMilliseconds)
        properties["session.timeout.ms"] = String(sessionTimeoutMilliseconds)
        properties["heartbeat.interval.ms"] = String(heartbeatIntervalMilliseconds)
        if let staticMemberID { properties["group.instance.id"] = staticMemberID }
        // Offsets live in each service's SQLite store, in the same transaction as the
        // state they changed; Kafka's own offset store is only written for lag metrics.
        properties["enable.auto.commit"] = "false"
        properties["enable.auto.offset.store"] = "false"
        // A stored offset past the log end (the embedded broker was restarted and lost
        // its memory) restarts from the beginning of what is there.
        properties["auto.offset.reset"] = "earliest"
        properties["enable.partition.eof"] = "false"
        // Range assignment gives one member the same partition numbers of topics with equal
        // partition counts: co-partitioned topics (a chat's conversation and its archive
        // queries) are read by the same instance.
        properties["partition.assignment.strategy"] = "range"
        return properties.merging(client.overrides) { _, override in override }
    }
}
