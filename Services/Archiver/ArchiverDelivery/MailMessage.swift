import Foundation

/// One file attached to a mail. Stored base64-encoded in the outbox's JSON.
public struct MailAttachment: Sendable, Codable, Equatable {
    public var filename: String
    /// A MIME type such as `application/pdf`.
    public var contentType: String
    public var data: [UInt8]

    public init(filename: String, contentType: String, data: [UInt8]) {
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }

    private enum CodingKeys: String, CodingKey { case filename, contentType, data }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        filename = try container.decode(String.self, forKey: .filename)
        contentType = try container.decode(String.self, forKey: .contentType)
        data = try Base64.decode(container.decode(String.self, forKey: .data), codingPath: container.codingPath + [CodingKeys.data])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(filename, forKey: .filename)
        try container.encode(contentType, forKey: .contentType)
        try container.encode(Base64.encode(data), forKey: .data)
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
