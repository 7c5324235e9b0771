import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Works off the `deliveries` table: picks due pending rows (oldest first, a batch at a
/// time, attempted concurrently), sends each through its client and records the outcome
/// in one write: delivered; failed (permanent failure, or the last of
/// `policy.maxAttempts`); or pending again after the policy's delay. Polls every
/// `pollInterval`, or at once after `wake()`. On graceful shutdown the wait and any
/// attempt in flight are cancelled; an abandoned attempt leaves its row pending as it
/// was, so the next start tries it again.
public final class DeliveryWorker: Service, Sendable {
    static let batchSize = 16

    private let database: DatabasePool
    private let mailer: SMTPClient?
    private let webhooks: WebhookClient?
    private let policy: RetryPolicy
    private let pollInterval: Duration
    private let logger: Logger
    private let wakeState = Mutex(WakeState())

    private struct WakeState {
        /// A wake() arrived while nobody waited: the next wait returns at once.
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    public init(database: DatabasePool, mailer: SMTPClient?, webhooks: WebhookClient?, policy: RetryPolicy = RetryPolicy(),
                pollInterval: Duration = .seconds(1), logger: Logger) {
        self.database = database
        self.mailer = mailer
        self.webhooks = webhooks
        self.policy = policy
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Asks for a pass now (e.g. right after a transaction that enqueued something).
    public func wake() {
        let waiter = wakeState.withLock { state in
            let waiter = state.waiter
            state.waiter = nil
            state.pending = waiter == nil
            return waiter
        }
        waiter?.resume()
    }

    public func run() async throws {
        logger.info("delivery worker started")
        await cancelWhenGracefulShutdown {
            await self.loop()
        }
        logger.info("delivery worker stopped")
    }

    private func loop() async {
        while !Task.isCancelled {
            do {
                try await passUntilIdle()
            } catch {
                if Task.isCancelled { break }
                logger.error("delivery pass failed", metadata: ["error": "\(error)"])
            }
            await waitForWakeOrTimeout()
        }
    }

    /// Attempts due rows until none is left (each row at most once per pass, so a row
    /// whose outcome could not be stored is not hammered).
    private func passUntilIdle() async throws {
        var attempted = Set<String>()
        while !Task.isCancelled {
            let now = Date()
            let due = try await database.read { db in
                try DeliveryOutbox.due(db, now: now, limit: Self.batchSize)
            }.filter { !attempted.contains($0.id) }
            if due.isEmpty { return }
            attempted.formUnion(due.map(\.id))
            await withTaskGroup(of: Void.self) { group in
                for row in due {
                    group.addTask { await self.attempt(row) }
                }
            }
        }
    }

    private func attempt(_ row: DeliveryOutbox.Due) async {
        let attempts = row.attempts + 1
        let failure: DeliveryFailure?
        do throws(DeliveryFailure) {
            switch row.delivery {
            case nil:
                throw .permanent("stored delivery cannot be decoded")
            case .mail(let message)?:
                guard let mailer else { throw .permanent("mail delivery, but no SMTP server is configured") }
                try await mailer.send(message, messageID: row.id)
            case .webhook(let request)?:
                guard let webhooks else { throw .permanent("webhook delivery, but no webhook client is configured") }
                try await webhooks.send(request, deliveryID: row.id)
            }
            failure = nil
        } catch {
            failure = error
        }
        var metadata: Logger.Metadata = ["delivery": "\(row.id)", "kind": "\(row.kind)", "attempts": "\(attempts)"]
        if let failure, !failure.permanent, Task.isCancelled {
            // Shutting down: most likely our own cancellation; the row stays as it was.
            metadata["error"] = "\(failure)"
            logger.info("delivery abandoned at shutdown", metadata: metadata)
            return
        }
        let now = Date()
        let outcome: @Sendable (DatabasePool) async throws -> Void
        switch failure {
        case nil:
            logger.info("delivered", metadata: metadata)
            outcome = { try await $0.write { db in try DeliveryOutbox.markDelivered(db, id: row.id, attempts: attempts, now: now) } }
        case let failure? where failure.permanent || attempts >= policy.maxAttempts:
            metadata["error"] = "\(failure)"
            logger.error(failure.permanent ? "delivery failed" : "delivery failed after the last attempt", metadata: metadata)
            outcome = { try await $0.write { db in try DeliveryOutbox.markFailed(db, id: row.id, attempts: attempts, error: failure.description, now: now) } }
        case let failure?:
            let delay = policy.delay(afterAttempt: attempts, random: Double.random(in: 0..<1))
            let next = now.addingTimeInterval(delay.seconds)
            metadata["error"] = "\(failure)"
            metadata["retry_in"] = "\(delay)"
            logger.warning("delivery will be retried", metadata: metadata)
            outcome = { try await $0.write { db in try DeliveryOutbox.markRetry(db, id: row.id, attempts: attempts, error: failure.description, nextAttemptAt: next) } }
        }
        // Stored even when shutdown began meanwhile: a made delivery must not be made again.
        let database = self.database
        do {
            try await Task { try await outcome(database) }.value
        } catch {
            logger.error("delivery outcome not stored", metadata: metadata.merging(["store_error": "\(error)"]) { $1 })
        }
    }

    private func waitForWakeOrTimeout() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [pollInterval] in try? await Task.sleep(for: pollInterval) }
            group.addTask { await self.waitForWake() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = wakeState.withLock { state in
                    // Cancellation is flagged before the handler below runs, so either the
                    // handler finds this waiter or this check sees the cancellation.
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = wakeState.withLock { state in
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }
            waiter?.resume()
        }
    }
}
