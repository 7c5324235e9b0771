import ChatKafka
import Foundation
import Logging
import Testing

/// These run against librdkafka's mock cluster hosted in the test process: a real
/// Kafka-protocol broker over loopback TCP.
@Suite(.timeLimit(.minutes(2)))
struct KafkaRoundTripTests {
    let logger = Logger(label: "test")

    func makeCluster(topic: String, partitions: Int) throws -> KafkaMockCluster {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic(topic, partitions: partitions)
        return cluster
    }

    @Test func producedRecordsArriveInOrderPerKeyWithDeliveryReports() async throws {
        let cluster = try makeCluster(topic: "orders", partitions: 3)
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        var tickets: [DeliveryTicket] = []
        for index in 0..<300 {
            tickets.append(try producer.enqueue(KafkaOutgoingRecord(topic: "orders", key: "key-\(index % 5)", value: Array("\(index)".utf8))))
        }
        var reports: [KafkaDeliveryReport] = []
        for ticket in tickets { reports.append(try await ticket.report) }
        #expect(reports.count == 300)
        #expect(Set(reports.map(\.partition)).isSubset(of: [0, 1, 2]))

        var consumerConfiguration = KafkaConsumerConfiguration(client: client, groupID: "reader")
        consumerConfiguration.fetchWaitMaxMilliseconds = 5
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, subscription: .allPartitions(topics: ["orders"], startOffsets: { _ in [:] }), logger: logger)
        var received: [KafkaConsumedRecord] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while received.count < 300, ContinuousClock.now < deadline {
            received += try await consumer.poll()
        }
        #expect(received.count == 300)
        for key in 0..<5 {
            let values = received.filter { $0.key == Array("key-\(key)".utf8) }.map { Int(String(decoding: $0.value, as: UTF8.self))! }
            #expect(values == values.sorted(), "records of one key keep their order")
            #expect(values.count == 60)
        }
        await consumer.close()
        await producer.shutdown()
    }

    @Test func groupConsumerStartsWhereTheStoreSays() async throws {
        let cluster = try makeCluster(topic: "events", partitions: 1)
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        for index in 0..<10 {
            _ = try await producer.send(KafkaOutgoingRecord(topic: "events", key: "k", value: Array("\(index)".utf8)))
        }
        let assigned = AssignedLog()
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: client, groupID: "group-a"),
            subscription: .group(topics: ["events"], onAssign: { partitions in
                assigned.add(partitions)
                return Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaStartOffset.offset(7)) })
            }, onRevoke: { _ in }),
            logger: logger)
        var received: [KafkaConsumedRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < 3, ContinuousClock.now < deadline {
            received += try await consumer.poll()
        }
        #expect(received.map(\.offset) == [7, 8, 9])
        #expect(assigned.partitions == [KafkaTopicPartition(topic: "events", partition: 0)])
        await consumer.close()
        await producer.shutdown()
    }

    @Test func aShutDownProducerRefusesRecords() async throws {
        let cluster = try makeCluster(topic: "present", partitions: 1)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")), logger: logger)
        let report = try await producer.send(KafkaOutgoingRecord(topic: "present", key: "k", value: [1]))
        #expect(report.offset == 0)
        await producer.shutdown()
        #expect(throws: KafkaError.self) { try producer.enqueue(KafkaOutgoingRecord(topic: "present", key: "k", value: [1])) }
    }

    @Test func badConfigurationNamesTheProperty() {
        var configuration = KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "test"))
        configuration.client.overrides["no.such.property"] = "1"
        #expect { try KafkaProducer(configuration: configuration, logger: logger) } throws: { error in
            "\(error)".contains("no.such.property")
        }
    }
}

final class AssignedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [KafkaTopicPartition] = []
    func add(_ partitions: [KafkaTopicPartition]) { lock.withLock { stored += partitions } }
    var partitions: [KafkaTopicPartition] { lock.withLock { stored } }
}
