import Foundation

/// One file attached to a mail. Stored base64-encoded in the outbox's JSON.
public struct MailAttachment: Sendable, Codable, Equatable {
    public var filename: String
    /// A MIME type such as `application/pdf`.
    public var contentType: String
    @Base64Coded public var data: [UInt8]

    public init(filename: String, contentType: String, data: [UInt8]) {
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }
}

/// A plain-text mail with optional attachments, sent from `SMTPSettings.from`.
public struct MailMessage: Sendable, Codable, Equatable {
    public var to: [String]
    public var subject: String
    /// The body; line breaks (LF or CRLF) are sent as CRLF.
    public var text: String
    public var attachments: [MailAttachment]

    public init(to: [String], subject: String, text: String, attachments: [MailAttachment] = []) {
        self.to = to
        self.subject = subject
        self.text = text
        self.attachments = attachments
    }
}

/// Base64 for JSON payloads (an array of numbers would triple a PDF's size).
/// Bytes kept in the outbox's JSON as one base64 string.
@propertyWrapper
public struct Base64Coded: Sendable, Codable, Equatable {
    public var wrappedValue: [UInt8]

    public init(wrappedValue: [UInt8]) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        wrappedValue = try Base64.decode(decoder.singleValueContainer().decode(String.self), codingPath: decoder.codingPath)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Base64.encode(wrappedValue))
    }
}

enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    static func decode(_ text: String, codingPath: [any CodingKey]) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "invalid base64"))
        }
        return Array(data)
    }
}
