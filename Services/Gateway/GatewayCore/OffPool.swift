import Foundation

/// Blocking CPU work (bcrypt, PDF layout) runs on a concurrent dispatch queue, so Swift's
/// cooperative pool (two threads on small machines) keeps serving requests meanwhile.
enum OffPool {
    private static let queue = DispatchQueue(label: "gateway-blocking-work", attributes: .concurrent)

    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
