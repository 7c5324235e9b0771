import CRDKafka
import Foundation

/// librdkafka's mock cluster: a Kafka-protocol broker on loopback TCP, memory only, hosted
/// in this process. It serves other processes like a real broker (consumer groups,
/// committed offsets, idempotent producer). Topics must be created here: the mock does not
/// implement the CreateTopics admin request.
public final class KafkaMockCluster: Sendable {
    // The cluster belongs to `host`, which must outlive it: both are released in deinit,
    // cluster first.
    private let host: RDKafkaClient
    private let cluster: MockClusterPointer

    public init(brokers: Int = 1) throws {
        host = try RDKafkaClient(kind: .producer, properties: ["log_level": "3"])
        guard let created = host.withHandle({ rd_kafka_mock_cluster_new($0, Int32(brokers)) }) else {
            throw KafkaError(configuration: "rd_kafka_mock_cluster_new failed")
        }
        cluster = MockClusterPointer(created)
    }

    /// `host:port,...` to put into `bootstrap.servers`.
    public var bootstrapServers: String {
        String(cString: rd_kafka_mock_cluster_bootstraps(cluster.pointer))
    }

    public func createTopic(_ name: String, partitions: Int) throws {
        let error = rd_kafka_mock_topic_create(cluster.pointer, name, Int32(partitions), 1)
        if error.isError { throw KafkaError(code: error, context: "create topic \(name)") }
    }

    /// Takes broker `id` down or up, for failure tests run inside the hosting process.
    public func setBroker(_ id: Int32, up: Bool) {
        if up { _ = rd_kafka_mock_broker_set_up(cluster.pointer, id) } else { _ = rd_kafka_mock_broker_set_down(cluster.pointer, id) }
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster.pointer)
    }
}

/// The mock cluster is internally synchronised (it runs its own thread and its functions
/// take its lock), so the pointer may be used from any thread.
private struct MockClusterPointer: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
