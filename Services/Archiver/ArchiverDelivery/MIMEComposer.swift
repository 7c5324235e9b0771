import Foundation

/// Builds an RFC 5322 / MIME message: CRLF line endings, no line over 78 characters but
/// the header lines that cannot be folded, ASCII only (UTF-8 goes into encoded-words,
/// RFC 2231 parameters, quoted-printable and base64), so it passes any SMTP server
/// without 8BITMIME or SMTPUTF8.
enum MIMEComposer {
    /// The complete message, not yet dot-stuffed. Throws a permanent failure for a value
    /// that could inject headers (CR or LF) or is not a usable address.
    static func compose(_ message: MailMessage, from: String, messageID: String, heloName: String,
                        date: Date, boundary: String) throws(DeliveryFailure) -> [UInt8] {
        try validateAddress(from, role: "From")
        guard !message.to.isEmpty else { throw .permanent("mail has no recipient") }
        for address in message.to { try validateAddress(address, role: "To") }
        try rejectLineBreaks(message.subject, what: "subject")
        try rejectLineBreaks(heloName, what: "HELO name")
        try rejectLineBreaks(messageID, what: "message id")

        var head = ""
        head += "Date: \(rfc5322Date(date))\r\n"
        head += "From: \(from)\r\n"
        head += "To: \(message.to.joined(separator: ",\r\n "))\r\n"
        head += "Subject: \(encodedHeaderText(message.subject))\r\n"
        head += "Message-ID: <\(messageIDLocalPart(messageID))@\(messageIDLocalPart(heloName))>\r\n"
        head += "MIME-Version: 1.0\r\n"

        let textHeaders = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        let text = quotedPrintable(message.text)
        guard !message.attachments.isEmpty else {
            return Array((head + textHeaders + "\r\n" + text + "\r\n").utf8)
        }
        var body = "This is a multi-part message in MIME format.\r\n"
        body += "--\(boundary)\r\n" + textHeaders + "\r\n" + text + "\r\n"
        for attachment in message.attachments {
            try rejectLineBreaks(attachment.filename, what: "attachment filename")
            try validateContentType(attachment.contentType)
            body += "--\(boundary)\r\n"
            body += "Content-Type: \(attachment.contentType)\r\n"
            body += "Content-Disposition: attachment;\(filenameParameter(attachment.filename))\r\n"
            body += "Content-Transfer-Encoding: base64\r\n\r\n"
            body += base64Lines(attachment.data)
        }
        body += "--\(boundary)--\r\n"
        head += "Content-Type: multipart/mixed; boundary=\"\(boundary)\"\r\n"
        return Array((head + "\r\n" + body).utf8)
    }

    /// A boundary that cannot occur in quoted-printable or base64 text ("=_" is neither).
    static func makeBoundary() -> String {
        "=_livechat_" + (0..<12).map { _ in hex(UInt8.random(in: 0...255)) }.joined()
    }

    /// SMTP DATA transparency (RFC 5321 4.5.2): a line starting with "." gets another
    /// one, and the body ends with CRLF "." CRLF.
    static func dotStuffed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 64 + 5)
        var atLineStart = true
        for byte in message {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(byte) }
            out.append(byte)
            atLineStart = byte == UInt8(ascii: "\n")
        }
        if !out.isEmpty && !out.ends(with: [13, 10]) { out += [13, 10] }
        out += Array(".\r\n".utf8)
        return out
    }

    // MARK: Validation

    static func rejectLineBreaks(_ value: String, what: String) throws(DeliveryFailure) {
        if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
            throw .permanent("\(what) contains a line break (header injection refused)")
        }
    }

    /// An addr-spec without display name: printable ASCII, no whitespace or characters
    /// that would end it early in a header or an SMTP command.
    static func validateAddress(_ address: String, role: String) throws(DeliveryFailure) {
        try rejectLineBreaks(address, what: "\(role) address")
        let forbidden: Set<UInt8> = Set("<>(),;:\"\\[] ".utf8)
        let bytes = Array(address.utf8)
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")), at > 0, at < bytes.count - 1, bytes.count <= 254,
              bytes.allSatisfy({ $0 > 32 && $0 < 127 && !forbidden.contains($0) })
        else {
            throw .permanent("invalid \(role) address \"\(address)\"")
        }
    }

    static func validateContentType(_ contentType: String) throws(DeliveryFailure) {
        try rejectLineBreaks(contentType, what: "attachment content type")
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = mediaType.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        let tspecials: Set<UInt8> = Set("()<>@,;:\\\"/[]?= ".utf8)
        let isToken = { (part: Substring) in !part.isEmpty && part.utf8.allSatisfy { $0 > 32 && $0 < 127 && !tspecials.contains($0) } }
        guard parts.count == 2, isToken(parts[0]), isToken(parts[1]),
              contentType.utf8.allSatisfy({ $0 >= 32 && $0 < 127 })
        else {
            throw .permanent("invalid attachment content type \"\(contentType)\"")
        }
    }

    // MARK: Headers

    /// RFC 5322 date in UTC, e.g. "Tue, 01 Jul 2025 09:05:00 +0000".
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String { let n = n ?? 0; return n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) "
            + "\(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }

    /// Keeps the characters allowed in a Message-ID's dot-atom; anything else becomes "-".
    static func messageIDLocalPart(_ value: String) -> String {
        let allowed: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.".utf8)
        let cleaned = String(decoding: value.utf8.map { allowed.contains($0) ? $0 : UInt8(ascii: "-") }, as: UTF8.self)
        return cleaned.isEmpty ? "-" : cleaned
    }

    /// The text as is when it is short printable ASCII; otherwise RFC 2047 encoded-words
    /// (UTF-8, base64) of at most 75 characters each, folded onto continuation lines.
    static func encodedHeaderText(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { $0 >= 32 && $0 < 127 } && text.utf8.count <= 66 && !text.contains("=?")
        if plain { return text }
        var words: [[UInt8]] = []
        var chunk: [UInt8] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > 39 {
                words.append(chunk)
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Base64.encode($0))?=" }.joined(separator: "\r\n ")
    }

    /// ` filename="..."`, or RFC 2231 `filename*=UTF-8''...` (with continuations when long)
    /// for a name that is not plain printable ASCII.
    static func filenameParameter(_ filename: String) -> String {
        let name = filename.isEmpty ? "attachment" : filename
        if name.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) && name.utf8.count <= 60 {
            let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return " filename=\"\(escaped)\""
        }
        let attrChars: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~".utf8)
        var pieces: [String] = []
        var current = ""
        for byte in name.utf8 {
            let token = attrChars.contains(byte) ? String(UnicodeScalar(byte)) : "%" + hex(byte)
            if current.count + token.count > 60 {
                pieces.append(current)
                current = ""
            }
            current += token
        }
        pieces.append(current)
        if pieces.count == 1 { return "\r\n filename*=UTF-8''\(pieces[0])" }
        return pieces.enumerated().map { index, piece in
            index == 0 ? "\r\n filename*0*=UTF-8''\(piece)" : "\r\n filename*\(index)*=\(piece)"
        }.joined(separator: ";")
    }

    // MARK: Bodies

    /// Quoted-printable (RFC 2045 6.7) of UTF-8 text; LF and CRLF become CRLF line breaks,
    /// encoded lines are at most 76 characters (soft breaks "=" CRLF).
    static func quotedPrintable(_ text: String) -> String {
        var out = ""
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            if index > 0 { out += "\r\n" }
            let bytes = Array(line.utf8)
            var length = 0
            for (position, byte) in bytes.enumerated() {
                let isLast = position == bytes.count - 1
                let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "="))
                    || ((byte == 32 || byte == 9) && !isLast)
                let token = literal ? String(UnicodeScalar(byte)) : "=" + hex(byte)
                // 75 leaves room for the "=" of a soft line break.
                if length + token.count > 75 {
                    out += "=\r\n"
                    length = 0
                }
                out += token
                length += token.count
            }
        }
        return out
    }

    /// Base64 in lines of 76 characters, each ending in CRLF.
    static func base64Lines(_ data: [UInt8]) -> String {
        let encoded = Array(Base64.encode(data).utf8)
        var out = ""
        out.reserveCapacity(encoded.count + encoded.count / 38 + 2)
        var start = 0
        while start < encoded.count {
            let end = min(start + 76, encoded.count)
            out += String(decoding: encoded[start..<end], as: UTF8.self) + "\r\n"
            start = end
        }
        return out
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
