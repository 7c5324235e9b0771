import CRDKafka

/// A failure reported by librdkafka, with its stable error name and librdkafka's message.
public struct KafkaError: Error, Sendable, CustomStringConvertible, Equatable {
    public let code: Int32
    public let name: String
    public let message: String

    init(code: rd_kafka_resp_err_t, context: String) {
        self.code = code.rawValue
        self.name = String(cString: rd_kafka_err2name(code))
        self.message = "\(context): \(String(cString: rd_kafka_err2str(code)))"
    }

    init(configuration message: String) {
        self.code = -1
        self.name = "CONFIGURATION"
        self.message = message
    }

    public init(code: Int32, name: String, message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    static let shutDown = KafkaError(code: -2, name: "SHUT_DOWN", message: "the Kafka client is shut down")

    public var description: String { "\(name): \(message)" }
}
