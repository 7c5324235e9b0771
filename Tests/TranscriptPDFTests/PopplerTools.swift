import Foundation
import Testing

/// Runs poppler's command-line tools (Debian's poppler-utils, installed by
/// scripts/setup.sh) on a rendered PDF in a fresh temporary directory.
struct Poppler {
    struct ToolFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// The text of the PDF, pages separated by form feeds.
    static func text(of pdf: Data, layout: Bool = false) throws -> String {
        try withTemporaryPDF(pdf) { input, directory in
            let output = directory.appendingPathComponent("out.txt")
            try run("pdftotext", (layout ? ["-layout"] : []) + ["-enc", "UTF-8", input.path, output.path])
            return try String(contentsOf: output, encoding: .utf8)
        }
    }

    static func pageCount(of pdf: Data) throws -> Int {
        let info = try withTemporaryPDF(pdf) { input, _ in try run("pdfinfo", [input.path]) }
        let line = info.split(separator: "\n").first { $0.hasPrefix("Pages:") }
        guard let line, let count = Int(line.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)) else {
            throw ToolFailed(description: "pdfinfo printed no page count:\n\(info)")
        }
        return count
    }

    /// `pdffonts` output: one row per embedded font.
    static func fonts(of pdf: Data) throws -> String {
        try withTemporaryPDF(pdf) { input, _ in try run("pdffonts", [input.path]) }
    }

    private static func withTemporaryPDF<T>(_ pdf: Data, _ body: (URL, URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("transcript-pdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("transcript.pdf")
        try pdf.write(to: input)
        return try body(input, directory)
    }

    @discardableResult
    private static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let executable = URL(fileURLWithPath: "/usr/bin/\(tool)")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ToolFailed(description: "\(executable.path) is missing: install poppler-utils (scripts/setup.sh does)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and stall the tool.
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolFailed(description: "\(tool) exited with \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }
}

extension String {
    /// The text with every whitespace character (spaces, line breaks, form feeds) removed.
    var withoutWhitespace: String { String(unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init)) }

    func occurrences(of needle: String) -> Int { components(separatedBy: needle).count - 1 }
}
