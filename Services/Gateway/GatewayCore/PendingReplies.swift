import ChatWire
import Foundation
import Synchronization

/// Requests this gateway sent over Kafka that wait for the event answering them (matched
/// by the answer's causation id). Register before sending, so a fast answer is never missed.
final class PendingReplies: Sendable {
    private let waiting = Mutex<[String: CheckedContinuation<Envelope, any Error>]>([:])

    func request(id: String, timeout: Duration, send: @escaping @Sendable () async throws -> Void) async throws -> Envelope {
        try await withCheckedThrowingContinuation { continuation in
            waiting.withLock { $0[id] = continuation }
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
        waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: envelope)
    }

    private func fail(_ id: String, with error: any Error) {
        waiting.withLock { $0.removeValue(forKey: id) }?.resume(throwing: error)
    }
}
