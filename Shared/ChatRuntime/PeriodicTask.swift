import ChatStore
import Foundation
import GRDB
import ServiceLifecycle

/// Runs `tick` in a store transaction at a fixed interval (timers: grace periods, offer
/// timeouts) and wakes the outbox for whatever the tick published.
public struct PeriodicTask: Service {
    let interval: Duration
    let store: ServiceStore
    let outbox: OutboxPublisher
    let tick: @Sendable (Database, Date) throws -> Void

    public init(every interval: Duration, store: ServiceStore, outbox: OutboxPublisher, tick: @escaping @Sendable (Database, Date) throws -> Void) {
        self.interval = interval
        self.store = store
        self.outbox = outbox
        self.tick = tick
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // A stop ends the wait: with an interval of an hour (the archiver's retention) a
            // plain sleep held up every service stopped after this one until the stop timed out.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            try await store.database.write { db in try tick(db, Date()) }
            outbox.signal()
        }
    }
}
