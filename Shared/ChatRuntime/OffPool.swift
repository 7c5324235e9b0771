import Foundation

/// Blocking work (bcrypt, PDF layout, a broker round trip through librdkafka's blocking
/// calls) runs on a concurrent dispatch queue, so Swift's cooperative pool (two threads on
/// small machines) keeps serving requests meanwhile.
public enum OffPool {
    private static let queue = DispatchQueue(label: "blocking-work", attributes: .concurrent)

    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
