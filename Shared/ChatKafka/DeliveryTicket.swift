import Synchronization

/// The pending outcome of one produced record. Enqueueing is synchronous (so records keep
/// the order in which they were enqueued); the delivery report arrives later on the
/// producer's poll thread and resolves the ticket.
public final class DeliveryTicket: Sendable {
    private enum State {
        case pending([CheckedContinuation<KafkaDeliveryReport, any Error>])
        case settled(Result<KafkaDeliveryReport, KafkaError>)
    }

    private let state = Mutex<State>(.pending([]))

    init() {}

    func settle(_ result: Result<KafkaDeliveryReport, KafkaError>) {
        let waiting: [CheckedContinuation<KafkaDeliveryReport, any Error>] = state.withLock { state in
            guard case .pending(let continuations) = state else { return [] }
            state = .settled(result)
            return continuations
        }
        for continuation in waiting { continuation.resume(with: result.mapError { $0 as any Error }) }
    }

    /// Waits for the broker's acknowledgement (or the failure after retries ran out).
    public var report: KafkaDeliveryReport {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let settled: Result<KafkaDeliveryReport, KafkaError>? = state.withLock { state in
                    switch state {
                    case .pending(var continuations):
                        continuations.append(continuation)
                        state = .pending(continuations)
                        return nil
                    case .settled(let result):
                        return result
                    }
                }
                if let settled { continuation.resume(with: settled.mapError { $0 as any Error }) }
            }
        }
    }
}
