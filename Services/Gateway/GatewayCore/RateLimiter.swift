import Foundation
import Synchronization

/// A token bucket per caller: `burst` messages at once, refilled at `perMinute`. In memory,
/// per gateway instance (a visitor's socket stays on one instance).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    private let perMinute: Double
    private let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    init(perMinute: Int, burst: Int) {
        self.perMinute = Double(perMinute)
        self.burst = Double(burst)
    }

    /// Takes one token for `key`; false when the caller is over the limit.
    func allow(_ key: String, now: Date = Date()) -> Bool {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + now.timeIntervalSince(bucket.updated) * perMinute / 60)
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[key] = bucket
            // Forget full buckets now and then, so memory follows active callers only.
            if buckets.count > 10_000 { buckets = buckets.filter { $0.value.tokens < burst } }
            return allowed
        }
    }
}

/// Thins out "typing" signals: per key (sender and chat), "typing" goes through at most once
/// every `interval` seconds, "stopped" always; after a "stopped" the next "typing" goes
/// through at once (a new burst of typing).
final class TypingThrottle: Sendable {
    private let interval: TimeInterval
    private let lastForwarded = Mutex<[String: Date]>([:])

    init(interval: TimeInterval) {
        self.interval = interval
    }

    func forward(_ typing: Bool, key: String, now: Date = Date()) -> Bool {
        lastForwarded.withLock { last in
            guard typing else { return last.removeValue(forKey: key) != nil }
            if let previous = last[key], now.timeIntervalSince(previous) < interval { return false }
            last[key] = now
            if last.count > 10_000 { last = last.filter { now.timeIntervalSince($0.value) < interval } }
            return true
        }
    }
}
