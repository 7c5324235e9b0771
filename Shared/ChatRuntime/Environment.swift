import Foundation
import Logging

/// A configuration value that is missing or malformed; the message names the variable.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let variable: String
    public let problem: String

    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }

    public var description: String { "configuration error: \(variable) \(problem)" }
}

/// Reads typed values from environment variables, with defaults that suit the one-command
/// local start. Every service reads its configuration through one of these, in one place.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public func string(_ name: String, default defaultValue: String) throws(ConfigurationError) -> String {
        guard let value = values[name] else { return defaultValue }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(variable: name, problem: "is set but empty")
        }
        return value
    }

    public func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = values[name] else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(variable: name, problem: "must be a whole number, got '\(text)'")
        }
        guard range.contains(value) else {
            throw ConfigurationError(variable: name, problem: "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    public func double(_ name: String, default defaultValue: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard let text = values[name] else { return defaultValue }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw ConfigurationError(variable: name, problem: "must be a number, got '\(text)'")
        }
        guard range.contains(value) else {
            throw ConfigurationError(variable: name, problem: "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    public func logLevel(_ name: String) throws(ConfigurationError) -> Logger.Level {
        let text = try string(name, default: "info")
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ConfigurationError(variable: name, problem: "must be one of trace, debug, info, notice, warning, error, critical; got '\(text)'")
        }
        return level
    }
}

/// What every service reads: where the broker is, where its data lives, how it logs.
public struct CommonConfiguration: Sendable {
    /// `CHAT_KAFKA_BOOTSTRAP`: Kafka bootstrap servers.
    public var kafkaBootstrap: String
    /// `CHAT_DATA_DIR`: folder for this service's store.
    public var dataDirectory: String
    /// `CHAT_INSTANCE_ID`: unique per running instance (defaults to service name and pid).
    public var instanceID: String
    /// `CHAT_LOG_LEVEL`.
    public var logLevel: Logger.Level
    /// `CHAT_KAFKA_FETCH_WAIT_MS`, `CHAT_KAFKA_LINGER_MS`, `CHAT_KAFKA_SESSION_TIMEOUT_MS`.
    public var fetchWaitMilliseconds: Int
    public var lingerMilliseconds: Int
    public var sessionTimeoutMilliseconds: Int
    /// `CHAT_LOG_FORMAT`: `text` for people, `json` for collectors.
    public var logFormat: LogFormat
    /// `CHAT_SHUTDOWN_TIMEOUT_SECONDS`: how long a graceful stop may take before the rest
    /// is cancelled.
    public var shutdownTimeoutSeconds: Int
    /// `CHAT_OPS_HOST`, `CHAT_OPS_PORT`: where /healthz, /readyz and /metrics listen (the
    /// gateway serves them on its own port instead). Port 0 picks a free one.
    public var opsHost: String
    public var opsPort: Int

    public enum LogFormat: String, Sendable {
        case text, json
    }

    /// Ops ports of the one-machine start, one per service so they do not collide.
    static let defaultOpsPorts = ["router": 9101, "presence": 9102, "archiver": 9103]

    public init(service: String, environment: EnvironmentReader) throws(ConfigurationError) {
        kafkaBootstrap = try environment.string("CHAT_KAFKA_BOOTSTRAP", default: "127.0.0.1:9092")
        dataDirectory = try environment.string("CHAT_DATA_DIR", default: "./data/\(service)")
        instanceID = try environment.string("CHAT_INSTANCE_ID", default: "\(service)-\(ProcessInfo.processInfo.processIdentifier)")
        guard WireIDCheck.isValid(instanceID) else {
            throw ConfigurationError(variable: "CHAT_INSTANCE_ID", problem: "may hold only letters, digits and . _ : - (1-128 characters)")
        }
        logLevel = try environment.logLevel("CHAT_LOG_LEVEL")
        fetchWaitMilliseconds = try environment.int("CHAT_KAFKA_FETCH_WAIT_MS", default: 10, range: 1...5_000)
        lingerMilliseconds = try environment.int("CHAT_KAFKA_LINGER_MS", default: 2, range: 0...1_000)
        sessionTimeoutMilliseconds = try environment.int("CHAT_KAFKA_SESSION_TIMEOUT_MS", default: 6_000, range: 1_000...300_000)
        let format = try environment.string("CHAT_LOG_FORMAT", default: "text")
        guard let logFormat = LogFormat(rawValue: format) else {
            throw ConfigurationError(variable: "CHAT_LOG_FORMAT", problem: "must be text or json, got '\(format)'")
        }
        self.logFormat = logFormat
        shutdownTimeoutSeconds = try environment.int("CHAT_SHUTDOWN_TIMEOUT_SECONDS", default: 15, range: 1...600)
        opsHost = try environment.string("CHAT_OPS_HOST", default: "127.0.0.1")
        opsPort = try environment.int("CHAT_OPS_PORT", default: Self.defaultOpsPorts[service] ?? 0, range: 0...65_535)
    }
}
