import ChatWire
import Foundation
import Synchronization

/// Requests this gateway sent over Kafka that wait for the event answering them (matched
/// by the answer's causation id). Register before sending, so a fast answer is never missed.
/// One command may cause several events (closing a chat can also assign a waiting one);
/// `accepts` picks the one that answers it.
final class PendingReplies: Sendable {
    private struct Waiter {
        var accepts: @Sendable (Envelope) -> Bool
        var continuation: CheckedContinuation<Envelope, any Error>
    }

    private let waiting = Mutex<[String: Waiter]>([:])

    func request(id: String, timeout: Duration, accepts: @escaping @Sendable (Envelope) -> Bool = { _ in true },
                 send: @escaping @Sendable () async throws -> Void) async throws -> Envelope {
        try await withCheckedThrowingContinuation { continuation in
            waiting.withLock { $0[id] = Waiter(accepts: accepts, continuation: continuation) }
            Task {
                do { try await send() } catch { self.fail(id, with: error) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                self.fail(id, with: APIError.timeout)
            }
        }
    }

    func resolve(_ id: String, with envelope: Envelope) {
        let waiter: Waiter? = waiting.withLock { waiting in
            guard let waiter = waiting[id], waiter.accepts(envelope) else { return nil }
            return waiting.removeValue(forKey: id)
        }
        waiter?.continuation.resume(returning: envelope)
    }

    private func fail(_ id: String, with error: any Error) {
        waiting.withLock { $0.removeValue(forKey: id) }?.continuation.resume(throwing: error)
    }
}
