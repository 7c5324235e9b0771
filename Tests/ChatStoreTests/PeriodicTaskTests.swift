import ChatKafka
@testable import ChatRuntime
import ChatStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// A stop must not wait for a periodic task's next tick (the archiver's retention ticks
/// once an hour: a plain sleep held every service stopped after it until the stop timed out).
@Suite(.timeLimit(.minutes(1)))
struct PeriodicTaskTests {
    final class TickCount: Sendable {
        let value = Mutex(0)
    }

    @Test func aStopEndsTheWaitForTheNextTick() async throws {
        let logger = Logger(label: "test")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("periodic-\(UUID().uuidString)/test.sqlite").path
        let store = try ServiceStore(path: path, migrations: [])
        // Never connects: nothing is published.
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: "127.0.0.1:9", clientID: "test")),
                                         logger: logger)
        let ticks = TickCount()
        let task = PeriodicTask(every: .seconds(3_600), store: store, outbox: OutboxPublisher(store: store, producer: producer, logger: logger)) { _, _ in
            ticks.value.withLock { $0 += 1 }
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [task], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { running in
            running.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(200))
            await group.triggerGracefulShutdown()
            try await running.next()
        }
        #expect(ticks.value.withLock { $0 } == 0, "stopped without a last tick")
        await producer.shutdown()
    }
}
