import Foundation
import Logging

/// Blocking calls to the broker at start-up or during a rebalance, retried while it does not
/// answer yet (every 0.5 s). Only for threads of their own, never the cooperative pool.
public enum BrokerRetry {
    /// Runs `body` until it succeeds or `attempts` ran out (then rethrows the last error).
    public static func blocking<T>(_ what: String, attempts: Int = 60, logger: Logger, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch {
                guard attempt < attempts else { throw error }
                logger.warning("\(what): broker not reachable yet; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                attempt += 1
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }
}
