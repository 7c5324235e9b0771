import Foundation
import ChatKafka
import ChatStore
import GRDB
import Logging
import Metrics
import ServiceLifecycle

/// Publishes the store's outbox to Kafka in append order and deletes what the broker
/// acknowledged. Wakes on `signal()` after each commit; after a crash, whatever the
/// outbox still holds is published again (consumers ignore the duplicates by event id).
public final class OutboxPublisher: Service, Sendable {
    private let store: ServiceStore
    private let producer: KafkaProducer
    private let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(store: ServiceStore, producer: KafkaProducer, logger: Logger) {
        self.store = store
        self.producer = producer
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Tells the publisher that new entries were committed.
    public func signal() {
        wake.yield()
    }

    /// Blocks the calling thread (never call it from the cooperative pool) until everything
    /// committed so far is published, or `timeout` passed. Returns whether the outbox emptied.
    /// A router that loses partitions waits here, so the next owner reads its last state.
    public func waitUntilPublished(timeout: Duration) -> Bool {
        signal()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? store.database.read({ try Outbox.count($0) })) == 0 { return true }
            signal()
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// After partitions were revoked: publishes what is left so their next owner sees it,
    /// and says so in the log when that took too long.
    public func publishBeforeHandOver(_ partitions: Set<Int32>) {
        if !waitUntilPublished(timeout: .seconds(10)) {
            logger.warning("revoked partitions before the outbox was published", metadata: ["partitions": "\(partitions.sorted())"])
        }
    }

    public func run() async throws {
        signal()
        for await _ in wakeups.cancelOnGracefulShutdown() {
            await drain()
        }
        // Publish what the last consumer batches wrote before the producer flushes.
        await drain()
    }

    private func drain() async {
        var failures = 0
        while true {
            do {
                let entries = try await store.database.read { try Outbox.next($0, limit: 500) }
                guard let last = entries.last else { return }
                // Enqueue all first (keeps their order per partition), then await reports.
                let tickets = try entries.map { entry in
                    try producer.enqueue(KafkaOutgoingRecord(topic: entry.topic, key: entry.key, value: entry.value, partition: entry.partition))
                }
                for ticket in tickets { _ = try await ticket.report }
                try await store.database.write { try Outbox.remove($0, through: last.sequence) }
                for entry in entries {
                    Counter(label: "chat_records_produced_total", dimensions: [("topic", entry.topic)]).increment()
                }
                failures = 0
            } catch {
                failures += 1
                logger.warning("outbox publish failed; retrying", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                if Task.isCancelled || (failures > 3 && Task.isShuttingDownGracefully) { return }
                try? await Task.sleep(for: .milliseconds(min(100 * failures * failures, 2_000)))
            }
        }
    }
}

/// Keeps the producer alive for the lifetime of the group and flushes it at shutdown.
/// Listed first in the service group, so it stops last.
public struct ProducerService: Service {
    public let producer: KafkaProducer

    public init(producer: KafkaProducer) {
        self.producer = producer
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await producer.shutdown()
    }
}
