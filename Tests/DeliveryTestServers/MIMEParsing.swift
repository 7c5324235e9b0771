import Foundation

/// Just enough MIME to check what the SMTP client sent (test side, independent of the
/// client's own encoder).
public struct ParsedMessage {
    public var headers: [(name: String, value: String)]
    public var body: String

    /// Splits at the first empty line and unfolds continuation lines.
    public init(_ raw: String) {
        let split = raw.range(of: "\r\n\r\n")!
        body = String(raw[split.upperBound...])
        headers = []
        for line in raw[..<split.lowerBound].components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), !headers.isEmpty {
                headers[headers.count - 1].value += "\r\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
    }

    /// The header's value with its line folds removed.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
            .replacingOccurrences(of: "\r\n ", with: " ").replacingOccurrences(of: "\r\n\t", with: " ")
    }

    /// The header's value with folds kept, to see which words sat on which line.
    public func rawHeader(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public func parameter(_ parameter: String, of headerName: String) -> String? {
        guard let value = header(headerName) else { return nil }
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            guard let equals = pair.firstIndex(of: "=") else { continue }
            if pair[..<equals].lowercased() == parameter.lowercased() {
                var raw = String(pair[pair.index(after: equals)...])
                if raw.hasPrefix("\""), raw.hasSuffix("\"") { raw = String(raw.dropFirst().dropLast()) }
                return raw
            }
        }
        return nil
    }

    /// The parts of a multipart body (the CRLF before each delimiter belongs to it).
    public func parts() -> [ParsedMessage] {
        guard let boundary = parameter("boundary", of: "Content-Type") else { return [] }
        let pieces = body.components(separatedBy: "--" + boundary)
        // pieces[0] is the preamble, the last one starts with "--" (the close delimiter).
        return pieces.dropFirst().dropLast().map { piece in
            var text = piece
            if text.hasPrefix("\r\n") { text.removeFirst() }
            if text.hasSuffix("\r\n") { text.removeLast() }
            return ParsedMessage(text)
        }
    }

    /// The body with its Content-Transfer-Encoding undone.
    public func decodedBody() -> [UInt8] {
        switch header("Content-Transfer-Encoding")?.lowercased() {
        case "base64": MIMEDecoding.base64(body)
        case "quoted-printable": MIMEDecoding.quotedPrintable(body)
        default: Array(body.utf8)
        }
    }
}

public enum MIMEDecoding {
    public static func base64(_ text: String) -> [UInt8] {
        Array(Data(base64Encoded: text.replacingOccurrences(of: "\r\n", with: "")) ?? Data())
    }

    public static func quotedPrintable(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "=") {
                if index + 2 < bytes.count, bytes[index + 1] == 13, bytes[index + 2] == 10 {
                    index += 3  // soft line break
                    continue
                }
                let hex = String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self)
                out.append(UInt8(hex, radix: 16)!)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }

    /// RFC 2047 "=?UTF-8?B?...?=" words; whitespace between two encoded words is dropped.
    public static func encodedWords(_ text: String) -> String {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        guard tokens.allSatisfy({ $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") }) else { return text }
        let bytes = tokens.flatMap { base64(String($0.dropFirst(10).dropLast(2))) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 2231 "UTF-8''percent%20encoded".
    public static func extendedValue(_ value: String) -> String? {
        guard value.hasPrefix("UTF-8''") else { return nil }
        return String(value.dropFirst(7)).removingPercentEncoding
    }
}
