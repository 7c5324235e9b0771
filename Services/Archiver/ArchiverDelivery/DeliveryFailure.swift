/// Why one delivery attempt did not succeed. `permanent` failures are not retried: the
/// receiver refused the message (SMTP 5xx, HTTP 4xx) or the message itself is invalid.
/// Everything else (4xx SMTP replies, 5xx/408/429 HTTP answers, timeouts, refused
/// connections) is transient and retried by the `DeliveryWorker`.
public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
    public var permanent: Bool
    public var description: String

    public init(permanent: Bool, description: String) {
        self.permanent = permanent
        self.description = description
    }

    static func permanent(_ description: String) -> DeliveryFailure {
        DeliveryFailure(permanent: true, description: description)
    }

    static func transient(_ description: String) -> DeliveryFailure {
        DeliveryFailure(permanent: false, description: description)
    }
}
