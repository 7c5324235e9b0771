import NIOCore

/// One SMTP reply: a code and its text lines (RFC 5321 4.2: "250-first", "250 last").
struct SMTPReply: Sendable, Equatable {
    var code: Int
    var lines: [String]

    var text: String { lines.joined(separator: " / ") }

    /// EHLO keywords in upper case, e.g. ["PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS"]
    /// (the first line is the server's greeting name).
    var extensions: [String] { lines.dropFirst().map { $0.uppercased() } }

    func offers(_ keyword: String) -> Bool {
        extensions.contains { $0 == keyword || $0.hasPrefix(keyword + " ") }
    }

    /// Mechanisms listed in "AUTH PLAIN LOGIN" (also the old "AUTH=PLAIN" form).
    var authMechanisms: Set<String> {
        var result = Set<String>()
        for line in extensions where line.hasPrefix("AUTH ") || line.hasPrefix("AUTH=") {
            line.dropFirst(5).split(separator: " ").forEach { result.insert(String($0)) }
        }
        return result
    }
}

/// Why a reply could not be read.
enum SMTPProtocolError: Error, CustomStringConvertible {
    case malformedReply(String)
    case replyTooLong

    var description: String {
        switch self {
        case .malformedReply(let line): "malformed SMTP reply line \"\(line.prefix(100))\""
        case .replyTooLong: "SMTP reply too long"
        }
    }
}

/// Decodes CRLF (or LF) terminated lines into complete, possibly multi-line replies.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    static let maximumLineLength = 4096
    static let maximumLines = 200

    private var code: Int?
    private var lines: [String] = []

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maximumLineLength { throw SMTPProtocolError.replyTooLong }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        var line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        if let reply = try consume(line) {
            context.fireChannelRead(wrapInboundOut(reply))
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Adds one line; returns the reply when the line was its last.
    mutating func consume(_ line: String) throws -> SMTPReply? {
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, bytes[0..<3].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-"),
              let lineCode = Int(String(decoding: bytes[0..<3], as: UTF8.self))
        else {
            throw SMTPProtocolError.malformedReply(line)
        }
        if let code, code != lineCode { throw SMTPProtocolError.malformedReply(line) }
        code = lineCode
        lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        guard lines.count <= Self.maximumLines else { throw SMTPProtocolError.replyTooLong }
        if bytes.count > 3 && bytes[3] == UInt8(ascii: "-") { return nil }
        let reply = SMTPReply(code: lineCode, lines: lines)
        code = nil
        lines = []
        return reply
    }
}
