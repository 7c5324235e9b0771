import Foundation

/// Exponential backoff with jitter for transient delivery failures.
public struct RetryPolicy: Sendable {
    /// Wait after the first failed attempt.
    public var initialDelay: Duration
    /// Growth per further attempt.
    public var multiplier: Double
    /// No wait is longer, jitter included.
    public var maxDelay: Duration
    /// Attempts in all; the row fails after the last one.
    public var maxAttempts: Int
    /// Relative spread, e.g. 0.2: a delay lies within ±20 % of its nominal value.
    public var jitter: Double

    public init(initialDelay: Duration = .seconds(5), multiplier: Double = 2, maxDelay: Duration = .seconds(15 * 60),
                maxAttempts: Int = 10, jitter: Double = 0.2) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
        self.jitter = jitter
    }

    /// Wait before the next attempt, after `attempt` (1 = the first) failed:
    /// `min(initialDelay * multiplier^(attempt-1), maxDelay)`, scaled by
    /// `1 + jitter * (2 * random - 1)` and capped at `maxDelay` again. `random` is in 0..<1.
    public func delay(afterAttempt attempt: Int, random: Double) -> Duration {
        let maximum = max(maxDelay.seconds, 0)
        let exponent = Double(max(attempt, 1) - 1)
        let nominal = min(initialDelay.seconds * Foundation.pow(max(multiplier, 1), exponent), maximum)
        let spread = min(max(jitter, 0), 1)
        let factor = 1 + spread * (2 * min(max(random, 0), 1) - 1)
        let seconds = min(max(nominal * factor, 0), maximum)
        return seconds.isFinite ? .seconds(seconds) : maxDelay
    }
}
