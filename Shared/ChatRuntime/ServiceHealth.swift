import Synchronization

/// What readiness depends on: named checks (the store is open, each consumer has its
/// partitions) that the parts of a service set as they come up and go down.
public final class ServiceHealth: Sendable {
    private let checks = Mutex<[String: Bool]>([:])

    public init() {}

    public func set(_ check: String, _ passing: Bool) {
        checks.withLock { $0[check] = passing }
    }

    /// Ready when there is at least one check and every check passes.
    public var isReady: Bool {
        checks.withLock { !$0.isEmpty && $0.values.allSatisfy { $0 } }
    }

    public var report: [String: Bool] {
        checks.withLock { $0 }
    }
}
