import Foundation

/// What one block of the transcript says, before any font is involved: the header block,
/// then one block per line of the chat.
enum BlockContent: Sendable, Equatable {
    struct Field: Sendable, Equatable {
        var label: String
        var value: String
    }

    struct Message: Sendable, Equatable {
        /// Set on the first line of a new calendar day (in the rendering time zone), so
        /// "HH:mm" stays unambiguous in chats that run past midnight.
        var dayMarker: String?
        var time: String
        var author: String
        var role: TranscriptDocument.Line.Role
        var text: String
    }

    case header(title: String, fields: [Field])
    case message(Message)
}

enum TranscriptBlocks {
    static func make(_ document: TranscriptDocument, timeZone: TimeZone) -> [BlockContent] {
        let clock = Clock(timeZone: timeZone)
        let ended = document.endedAt.map {
            "\(clock.timestamp($0))  (duration \(duration(from: document.startedAt, to: $0)))"
        }
        let agents = document.agentNames.map(singleLine).filter { !$0.isEmpty }
        let title = singleLine(document.title)
        var blocks: [BlockContent] = [
            .header(
                title: title.isEmpty ? "Chat transcript" : title,
                fields: [
                    .init(label: "Department", value: singleLine(document.departmentName)),
                    .init(label: agents.count > 1 ? "Agents" : "Agent", value: agents.isEmpty ? "none" : agents.joined(separator: ", ")),
                    .init(label: "Visitor", value: singleLine(document.visitorName)),
                    .init(label: "Started", value: clock.timestamp(document.startedAt)),
                    .init(label: "Ended", value: ended ?? "still open"),
                ]
            )
        ]
        var currentDay = clock.day(document.startedAt)
        for line in document.lines {
            let day = clock.day(line.at)
            blocks.append(.message(.init(
                dayMarker: day == currentDay ? nil : day,
                time: clock.time(line.at),
                author: singleLine(line.author),
                role: line.role,
                text: bodyText(line.text)
            )))
            currentDay = day
        }
        return blocks
    }

    /// Names and titles are one line: line breaks and other control characters become
    /// spaces, so a crafted visitor name cannot push fake header rows into the PDF.
    static func singleLine(_ text: String) -> String {
        let scalars = text.unicodeScalars.map { scalar -> Unicode.Scalar in
            scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" ? " " : scalar
        }
        var result = String(String.UnicodeScalarView(scalars))
        while result.contains("  ") { result = result.replacingOccurrences(of: "  ", with: " ") }
        return result.trimmingCharacters(in: .whitespaces)
    }

    /// Message bodies keep their line breaks and tabs. Pango stops at a NUL byte even when
    /// given a length, and draws other control characters as hex boxes, so those become
    /// U+FFFD instead of silently cutting the message short.
    static func bodyText(_ text: String) -> String {
        let kept: Set<Unicode.Scalar> = ["\n", "\r", "\t"]
        let scalars = text.unicodeScalars.map { scalar -> Unicode.Scalar in
            scalar.properties.generalCategory == .control && !kept.contains(scalar) ? "\u{FFFD}" : scalar
        }
        return String(String.UnicodeScalarView(scalars))
    }

    static func duration(from start: Date, to end: Date) -> String {
        let seconds = max(0, Int(end.timeIntervalSince(start).rounded()))
        let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        return hours > 0
            ? "\(hours):\(twoDigits(minutes)):\(twoDigits(rest))"
            : "\(minutes):\(twoDigits(rest))"
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// Fixed English formats (en_US_POSIX, Gregorian), so a transcript looks the same
    /// whatever the server's locale is. Created per render: DateFormatter is not Sendable.
    private struct Clock {
        let timeFormatter: DateFormatter
        let dayFormatter: DateFormatter
        let timestampFormatter: DateFormatter
        let zoneName: String

        init(timeZone: TimeZone) {
            func formatter(_ format: String) -> DateFormatter {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.calendar = Calendar(identifier: .gregorian)
                formatter.timeZone = timeZone
                formatter.dateFormat = format
                return formatter
            }
            timeFormatter = formatter("HH:mm")
            dayFormatter = formatter("EEEE, yyyy-MM-dd")
            timestampFormatter = formatter("yyyy-MM-dd HH:mm:ss xxxxx")
            zoneName = timeZone.identifier
        }

        func time(_ date: Date) -> String { timeFormatter.string(from: date) }
        func day(_ date: Date) -> String { dayFormatter.string(from: date) }
        func timestamp(_ date: Date) -> String { "\(timestampFormatter.string(from: date)) (\(zoneName))" }
    }
}
