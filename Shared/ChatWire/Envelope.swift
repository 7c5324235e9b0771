import Foundation

/// The outer shape of every Kafka record value: who, what, which version, when, and why.
/// Consumers ignore fields they do not know, so producers may add fields within a version.
public struct Envelope: Sendable, Equatable {
    /// Unique per event; consumers use it to ignore replays.
    public var id: String
    /// Incremented only for changes old consumers would misread.
    public var schemaVersion: Int
    public var occurredAt: Date
    /// Ties together everything caused by one user action (a request id, say).
    public var correlationID: String?
    /// The id of the event or request that directly caused this one.
    public var causationID: String?
    /// The service (and instance) that wrote the record.
    public var producer: String
    public var event: WireEvent

    public init(id: String = WireID.make(), occurredAt: Date = Date(), correlationID: String? = nil,
                causationID: String? = nil, producer: String, event: WireEvent) {
        self.id = id
        self.schemaVersion = event.type.schemaVersion
        self.occurredAt = occurredAt
        self.correlationID = correlationID
        self.causationID = causationID
        self.producer = producer
        self.event = event
    }

    /// An envelope for an event caused by `cause`, in the same correlation.
    public static func caused(by cause: Envelope, producer: String, event: WireEvent, id: String = WireID.make(), at time: Date = Date()) -> Envelope {
        Envelope(id: id, occurredAt: time, correlationID: cause.correlationID ?? cause.id, causationID: cause.id, producer: producer, event: event)
    }

    public var type: EventType { event.type }
}

/// A record that cannot be read, with a stable code for logs and replies.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case malformed
        case unknownType = "unknown_type"
        case unsupportedVersion = "unsupported_version"
    }

    public var code: Code
    public var message: String

    public var description: String { "\(code.rawValue): \(message)" }
}

extension Envelope: Codable {
    enum CodingKeys: String, CodingKey {
        case id, type, schemaVersion, occurredAt, correlationID = "correlationId", causationID = "causationId", producer, payload
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let typeName = try container.decode(String.self, forKey: .type)
        guard let type = EventType(rawValue: typeName) else {
            throw WireError(code: .unknownType, message: "unknown event type '\(typeName)'")
        }
        let version = try container.decode(Int.self, forKey: .schemaVersion)
        guard version >= 1, version <= type.schemaVersion else {
            throw WireError(code: .unsupportedVersion, message: "\(typeName) schema version \(version); this build reads up to \(type.schemaVersion)")
        }
        id = try container.decode(String.self, forKey: .id)
        schemaVersion = version
        occurredAt = try container.decode(Date.self, forKey: .occurredAt)
        correlationID = try container.decodeIfPresent(String.self, forKey: .correlationID)
        causationID = try container.decodeIfPresent(String.self, forKey: .causationID)
        producer = try container.decode(String.self, forKey: .producer)
        event = try WireEvent(type: type, payload: container.superDecoder(forKey: .payload))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(type.rawValue, forKey: .type)
        try container.encode(schemaVersion, forKey: .schemaVersion)
        try container.encode(occurredAt, forKey: .occurredAt)
        try container.encodeIfPresent(correlationID, forKey: .correlationID)
        try container.encodeIfPresent(causationID, forKey: .causationID)
        try container.encode(producer, forKey: .producer)
        try event.encodePayload(to: container.superEncoder(forKey: .payload))
    }
}

/// The JSON form of envelopes: ISO 8601 times with milliseconds, sorted keys so that
/// golden vectors compare byte for byte.
public enum WireCodec {
    public static func encode(_ envelope: Envelope) -> [UInt8] {
        // Encoding our own value types cannot fail.
        // swiftlint:disable:next force_try
        Array(try! encoder.encode(envelope))
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Envelope {
        do {
            return try decoder.decode(Envelope.self, from: Data(bytes))
        } catch let error as WireError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw WireError(code: .malformed, message: describe(context))
        } catch let DecodingError.keyNotFound(key, context) {
            throw WireError(code: .malformed, message: "missing '\(key.stringValue)' at \(path(context))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw WireError(code: .malformed, message: describe(context))
        } catch let DecodingError.valueNotFound(_, context) {
            throw WireError(code: .malformed, message: describe(context))
        } catch {
            throw WireError(code: .malformed, message: "\(error)")
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? "top level" : path
    }

    private static func describe(_ context: DecodingError.Context) -> String {
        "\(context.debugDescription) (at \(path(context)))"
    }

    private static let encoder = makeEncoder()

    /// Any value in the wire's JSON conventions (e.g. a state kept in a store).
    public static func encodeValue(_ value: some Encodable) throws -> Data {
        try encoder.encode(value)
    }

    public static func decodeValue<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        try decoder.decode(type, from: data)
    }

    /// A JSON encoder with the wire's conventions (sorted keys, millisecond ISO 8601
    /// times), for any JSON this system writes.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(WireTime.format(date))
        }
        return encoder
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = WireTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
            }
            return date
        }
        return decoder
    }()
}

/// ISO 8601 UTC times with millisecond precision, e.g. `2026-11-23T10:15:30.250Z`.
public enum WireTime {
    /// ISO 8601 in UTC with milliseconds, rounded to the nearest one. Foundation's formatter
    /// truncates, so a time stored as 0.12299999 s would be written ".122" and come back one
    /// millisecond early; times that travel as cursors must come back as they went.
    public static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let whole = seconds - (fraction < 0 ? 1 : 0)
        let text = Date(timeIntervalSince1970: TimeInterval(whole)).formatted(Date.ISO8601FormatStyle())
        let thousandths = fraction < 0 ? fraction + 1000 : fraction
        return String(text.dropLast()) + "." + String(String(thousandths + 1000).dropFirst()) + "Z"
    }

    /// `date` at the wire's precision, as it reads back after `format` and `parse`.
    public static func wirePrecision(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
