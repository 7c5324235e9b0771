import Foundation
import Testing
@testable import TranscriptPDF

/// Documents for the tests; times are fixed so the header is predictable.
enum Fixtures {
    static let start = Date(timeIntervalSince1970: 1_795_424_400)  // 2026-11-23T09:00:00Z, a Monday

    static func document(_ lines: [TranscriptDocument.Line], endedAt: Date? = start.addingTimeInterval(1_800)) -> TranscriptDocument {
        TranscriptDocument(
            title: "Chat c-4711",
            departmentName: "Kundenservice Süd",
            agentNames: ["Alice Adams", "Bob Berg"],
            visitorName: "Grete Müller",
            startedAt: start,
            endedAt: endedAt,
            lines: lines
        )
    }

    static func line(_ text: String, _ role: TranscriptDocument.Line.Role = .visitor, after seconds: Double = 60) -> TranscriptDocument.Line {
        let author = switch role {
        case .visitor: "Grete Müller"
        case .agent: "Alice Adams"
        case .system: "System"
        }
        return TranscriptDocument.Line(at: start.addingTimeInterval(seconds), author: author, role: role, text: text)
    }

    /// Text without the "Page n of m" footers, so a message split across pages reads as
    /// one string once whitespace is removed.
    static func withoutFooters(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { $0.range(of: #"^\s*Page \d+ of \d+\s*$"#, options: .regularExpression) == nil }
            .joined(separator: "\n")
    }
}

@Suite("Transcript PDF, read back with poppler")
struct TranscriptPDFTextTests {
    @Test func umlautsComeBackExactly() throws {
        let message = "Grüße aus Köln, ÄÖÜ äöü ß"
        let text = try Poppler.text(of: TranscriptPDF.render(Fixtures.document([Fixtures.line(message)])))
        #expect(text.contains(message))
        #expect(text.contains("Grete Müller"))
    }

    @Test func emojiStaysText() throws {
        let message = "Danke, das hat geholfen 😀"
        let pdf = try TranscriptPDF.render(Fixtures.document([Fixtures.line(message)]))
        let text = try Poppler.text(of: pdf)
        #expect(text.contains("😀"))
        #expect(text.withoutWhitespace.contains(message.withoutWhitespace))
        // The emoji's glyph comes from Symbola, the body text from DejaVu Sans.
        let fonts = try Poppler.fonts(of: pdf)
        #expect(fonts.contains("Symbola"))
        #expect(fonts.contains("DejaVuSans"))
    }

    @Test func markupIsShownLiterally() throws {
        let message = "<b>bold</b> & <script>alert(1)</script> &amp; <span foreground=\"red\">x</span>"
        let text = try Poppler.text(of: TranscriptPDF.render(Fixtures.document([Fixtures.line(message)])))
        #expect(text.contains(message))
    }

    @Test func headerNamesDepartmentAgentsVisitorAndTimes() throws {
        let document = Fixtures.document([Fixtures.line("Hallo")])
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let text = try Poppler.text(of: TranscriptPDF.render(document, timeZone: berlin))
        for expected in ["Chat c-4711", "Kundenservice Süd", "Alice Adams, Bob Berg", "Grete Müller",
                         "2026-11-23 10:00:00 +01:00 (Europe/Berlin)", "2026-11-23 10:30:00 +01:00 (Europe/Berlin)",
                         "duration 30:00", "10:01"] {
            #expect(text.contains(expected), "missing \(expected)")
        }
        #expect(text.contains("Page 1 of 1"))
    }

    @Test func openChatWithoutLinesIsOnePage() throws {
        let pdf = try TranscriptPDF.render(Fixtures.document([], endedAt: nil))
        #expect(try Poppler.pageCount(of: pdf) == 1)
        let text = try Poppler.text(of: pdf)
        #expect(text.contains("still open"))
        #expect(text.contains("Page 1 of 1"))
    }

    @Test func threeHundredMessagesFillSeveralPagesAndEachAppearsOnce() throws {
        let lines = (1...300).map { index in
            let filler = String(repeating: "Satz \(index) mit etwas Inhalt. ", count: index % 7)
            return Fixtures.line("marker\(index)x \(filler)", index % 3 == 0 ? .agent : .visitor, after: Double(index) * 20)
        }
        let pdf = try TranscriptPDF.render(Fixtures.document(lines))
        let pages = try Poppler.pageCount(of: pdf)
        #expect(pages > 1)
        let text = try Poppler.text(of: pdf)
        for index in 1...300 {
            let count = text.occurrences(of: "marker\(index)x")
            #expect(count == 1, "marker\(index)x found \(count) times")
        }
        #expect(text.contains("Page 1 of \(pages)"))
        #expect(text.contains("Page \(pages) of \(pages)"))
        #expect(text.occurrences(of: " of \(pages)") == pages)
    }

    @Test func longWordWrapsAndSplitsAcrossPagesWithEveryCharacter() throws {
        // 4,000 five-letter numbers in base 26 ("aaaaa", "aaaab", ...) without spaces:
        // 20,000 characters, each chunk unique, so a lost, added or reordered character
        // shows up, and so would a hyphen drawn at a break.
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        let message = (0..<4_000).map { index in
            String((0..<5).reversed().map { place in letters[index / Int(pow(26.0, Double(place))) % 26] })
        }.joined()
        #expect(message.count == 20_000)
        let pdf = try TranscriptPDF.render(Fixtures.document([Fixtures.line("short before"), Fixtures.line(message)]))
        let pages = try Poppler.pageCount(of: pdf)
        #expect(pages >= 3)
        let text = try Poppler.text(of: pdf)
        let body = Fixtures.withoutFooters(text).withoutWhitespace
        #expect(body.contains(message))
        // Pango's hyphens at word-internal breaks are switched off.
        #expect(!Fixtures.withoutFooters(text).contains("-\n"))
        // The first page holds the start of the message (not a page left empty for it).
        let firstPage = try #require(text.split(separator: "\u{0C}").first)
        #expect(String(firstPage).withoutWhitespace.contains("aaaaaaaaabaaaac"))
    }

    @Test func blankAndMultilineMessagesKeepTheirLines() throws {
        let pdf = try TranscriptPDF.render(Fixtures.document([
            Fixtures.line("", .system),
            Fixtures.line("erste Zeile\nzweite Zeile\n\nvierte Zeile", .agent),
            Fixtures.line("Chat closed by agent", .system),
        ]))
        let lines = try Poppler.text(of: pdf).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("erste Zeile"))
        #expect(lines.contains("zweite Zeile"))
        #expect(lines.contains("vierte Zeile"))
        #expect(lines.contains("Chat closed by agent"))
    }
}

@Suite("Transcript PDF output")
struct TranscriptPDFOutputTests {
    struct SinkFull: Error {}

    @Test func streamingSinkAndFileMatchInMemoryText() throws {
        let document = Fixtures.document((1...40).map { Fixtures.line("stream line \($0)x") })
        var chunks: [Data] = []
        try TranscriptPDF.render(document, into: { chunks.append($0) })
        #expect(chunks.count > 1)
        let streamed = chunks.reduce(Data(), +)
        #expect(streamed.starts(with: Data("%PDF-".utf8)))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("transcript-\(UUID().uuidString).pdf")
        defer { try? FileManager.default.removeItem(at: file) }
        try TranscriptPDF.render(document, to: file)
        let written = try Data(contentsOf: file)

        let expected = try Poppler.text(of: TranscriptPDF.render(document))
        #expect(try Poppler.text(of: streamed) == expected)
        #expect(try Poppler.text(of: written) == expected)
        #expect(expected.contains("stream line 40x"))
    }

    @Test func sinkFailureStopsRenderingWithOutputError() throws {
        var calls = 0
        let error = #expect(throws: TranscriptPDFError.self) {
            try TranscriptPDF.render(Fixtures.document([Fixtures.line("x")]), into: { _ in
                calls += 1
                throw SinkFull()
            })
        }
        #expect(error?.code == TranscriptPDFError.outputCode)
        #expect(error?.underlying is SinkFull)
        #expect(calls == 1)
    }

    @Test func unwritableFileIsAnOutputError() throws {
        let file = URL(fileURLWithPath: "/nonexistent-directory-\(UUID().uuidString)/t.pdf")
        let error = #expect(throws: TranscriptPDFError.self) {
            try TranscriptPDF.render(Fixtures.document([]), to: file)
        }
        #expect(error?.code == TranscriptPDFError.outputCode)
    }
}

@Suite("Paginator")
struct PaginatorTests {
    static func rows(_ count: Int, height: Double = 10, gap: Double = 5) -> [Row] {
        (0..<count).map { Row(height: height, gapBefore: $0 == 0 ? gap : 0) }
    }

    @Test func blockThatFitsStaysOnThePage() {
        var paginator = Paginator(top: 0, bottom: 100)
        #expect(paginator.place(BlockMetrics(rows: Self.rows(3), keepTogetherRows: 2)).map(\.page) == [0, 0, 0])
        // The first block's gap is dropped at the top of the page; the second's is not.
        let second = paginator.place(BlockMetrics(rows: Self.rows(2), keepTogetherRows: 2))
        #expect(second == [RowPlacement(page: 0, top: 35), RowPlacement(page: 0, top: 45)])
    }

    @Test func blockThatFitsAnEmptyPageMovesWhole() {
        var paginator = Paginator(top: 0, bottom: 100)
        _ = paginator.place(BlockMetrics(rows: Self.rows(6), keepTogetherRows: 2))  // 0...60
        let moved = paginator.place(BlockMetrics(rows: Self.rows(5), keepTogetherRows: 2))  // 55 tall
        #expect(moved.map(\.page) == [1, 1, 1, 1, 1])
        #expect(moved.first?.top == 0)
        #expect(paginator.pageCount == 2)
    }

    @Test func exactFitStaysDespiteRounding() {
        var paginator = Paginator(top: 0, bottom: 100)
        let placed = paginator.place(BlockMetrics(rows: Self.rows(10, height: 10.000_5), keepTogetherRows: 1))
        #expect(placed.allSatisfy { $0.page == 0 })
    }

    @Test func tallBlockSplitsLineByLineAfterItsHead() {
        var paginator = Paginator(top: 0, bottom: 100)
        _ = paginator.place(BlockMetrics(rows: Self.rows(5), keepTogetherRows: 1))  // 0...50
        let tall = paginator.place(BlockMetrics(rows: Self.rows(25), keepTogetherRows: 2))
        // Starts on the current page (rows at 55...95), continues on the next ones.
        #expect(tall.prefix(4).allSatisfy { $0.page == 0 })
        #expect(tall[4] == RowPlacement(page: 1, top: 0))
        // 10 rows per page after that: rows 4...13, 14...23, then 24 alone.
        #expect(tall.last == RowPlacement(page: 3, top: 0))
        #expect(paginator.pageCount == 4)
        #expect(tall.count == 25)
        #expect(zip(tall, tall.dropFirst()).allSatisfy { $0.page < $1.page || $0.top < $1.top })
    }

    @Test func tallBlockWhoseHeadDoesNotFitStartsANewPage() {
        var paginator = Paginator(top: 0, bottom: 100)
        _ = paginator.place(BlockMetrics(rows: Self.rows(8), keepTogetherRows: 1))  // 0...80
        let tall = paginator.place(BlockMetrics(rows: Self.rows(30), keepTogetherRows: 2))  // head needs 25
        #expect(tall.first == RowPlacement(page: 1, top: 0))
    }
}

@Suite("Transcript blocks")
struct TranscriptBlocksTests {
    @Test func dayMarkerOnlyWhenTheDayChanges() throws {
        let document = Fixtures.document([
            Fixtures.line("a", after: 60),
            Fixtures.line("b", after: 120),
            Fixtures.line("c", after: 86_400),
            Fixtures.line("d", after: 86_460),
        ])
        let markers = TranscriptBlocks.make(document, timeZone: .gmt).compactMap { block -> String?? in
            guard case .message(let message) = block else { return nil }
            return .some(message.dayMarker)
        }
        #expect(markers == [nil, nil, "Tuesday, 2026-11-24", nil])
    }

    @Test func namesBecomeOneLineAndBodiesLoseOnlyNul() {
        #expect(TranscriptBlocks.singleLine(" Eve\nDepartment:\tFake \r\n") == "Eve Department: Fake")
        #expect(TranscriptBlocks.bodyText("a\u{0}b\nc\td") == "a\u{FFFD}b\nc\td")
    }

    @Test func durations() {
        #expect(TranscriptBlocks.duration(from: Fixtures.start, to: Fixtures.start.addingTimeInterval(75)) == "1:15")
        #expect(TranscriptBlocks.duration(from: Fixtures.start, to: Fixtures.start.addingTimeInterval(3_725)) == "1:02:05")
    }
}

@Suite("Emoji runs")
struct EmojiRunsTests {
    @Test func emojiClustersAreFoundAsByteRanges() {
        // "a" 1 byte, "😀" 4, "👍🏽" 8, " " 1, "1️⃣" 7, "☺" (text presentation) 3, "©" 2.
        let text = "a😀👍🏽 1️⃣☺©"
        #expect(EmojiRuns.ranges(in: text) == [1..<13, 14..<21])
        #expect(EmojiRuns.ranges(in: "Grüße <b>&</b> 123 #*") == [])
        #expect(EmojiRuns.ranges(in: "❤️") == [0..<6])
    }
}
