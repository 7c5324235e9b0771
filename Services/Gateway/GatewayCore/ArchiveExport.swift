import ChatWire
import Foundation
import HTTPTypes

/// E5: archived chats as CSV (one row per chat, the transcript in one cell) or as a JSON
/// array, written a chunk at a time so an export of any size needs little memory.
enum ArchiveExport {
    /// How many chats the export holds (`X-Archive-Chats`), for progress bars.
    static let totalHeader = HTTPField.Name("X-Archive-Chats")!
    enum Format: String, Sendable {
        case csv, json

        var contentType: String {
            switch self {
            case .csv: "text/csv; charset=utf-8"
            case .json: "application/json; charset=utf-8"
            }
        }
    }

    static let csvColumns = ["chat_id", "department_id", "visitor_id", "visitor_name", "contact", "contact_email", "agents", "queued_at", "first_assigned_at",
                             "closed_at", "closed_by", "closed_reason", "category", "pre_chat", "message_count", "transcript"]

    /// Collects output and hands out chunks of about `chunkSize` bytes.
    struct Writer {
        let format: Format
        var buffer: [UInt8] = []
        var count = 0
        static let chunkSize = 64 * 1024

        init(format: Format) {
            self.format = format
            switch format {
            case .csv: buffer += Array((csvColumns.joined(separator: ",") + "\r\n").utf8)
            case .json: buffer += Array("[".utf8)
            }
        }

        /// Adds one chat; returns a chunk to write when enough has gathered.
        mutating func add(_ chat: ArchivedChat) -> [UInt8]? {
            switch format {
            case .csv: buffer += Array(ArchiveExport.csvRow(chat).utf8)
            case .json:
                if count > 0 { buffer += Array(",\n".utf8) }
                buffer += (try? WireCodec.encodeValue(chat)).map(Array.init) ?? []
            }
            count += 1
            guard buffer.count >= Self.chunkSize else { return nil }
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }

        /// What is left, with the closing bracket of a JSON array.
        mutating func finish() -> [UInt8] {
            if format == .json { buffer += Array("]\n".utf8) }
            defer { buffer = [] }
            return buffer
        }
    }

    static func csvRow(_ chat: ArchivedChat) -> String {
        let transcript = (chat.messages ?? []).map { "[\(WireTime.format($0.sentAt))] \($0.sender.displayName): \($0.text)" }.joined(separator: "\n")
        let fields: [String] = [
            chat.chatId, chat.departmentId, chat.visitor.id, chat.visitor.displayName, chat.contact ?? "", chat.contactEmail ?? "",
            chat.agents.map(\.displayName).joined(separator: "; "),
            WireTime.format(chat.queuedAt), chat.firstAssignedAt.map(WireTime.format) ?? "", chat.closedAt.map(WireTime.format) ?? "",
            chat.closedBy?.displayName ?? "", chat.closedReason ?? "",
            chat.preChat?.category ?? "", (chat.preChat?.answers ?? []).map { "\($0.label): \($0.value)" }.joined(separator: "\n"),
            String(chat.messageCount), transcript,
        ]
        return fields.map(csvField).joined(separator: ",") + "\r\n"
    }

    /// RFC 4180 quoting; a cell a spreadsheet would run as a formula starts with `'`.
    static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        guard text.contains(where: { ",\"\n\r".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
