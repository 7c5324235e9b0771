import Foundation

/// Renders chat transcripts to A4 PDF with pango and cairo: a header block (title,
/// department, agents, visitor, start and end), then every line as "HH:mm  Author" over
/// its wrapped text, and "Page n of m" in the footer. Text is set in DejaVu Sans, with
/// Symbola for emoji and symbols, and always as plain text: nothing a visitor typed is
/// read as markup.
///
/// Rendering is CPU-bound and blocking (about a tenth of a second for a 300-line chat,
/// much more for very long ones), so callers on Swift concurrency should run it on their own
/// thread or dispatch queue, not on the cooperative pool (two threads on our machines).
/// Renders on different threads are independent; one render never leaves its thread, and
/// the streaming sink is called synchronously on it.
public enum TranscriptPDF {
    /// The whole PDF in memory.
    public static func render(_ document: TranscriptDocument, timeZone: TimeZone = .gmt) throws -> Data {
        var data = Data()
        try render(document, timeZone: timeZone, bytes: { data.append(contentsOf: $0) })
        return data
    }

    /// Streams the PDF to `sink` in chunks, in order, while it is drawn. If the sink
    /// throws, rendering stops and the error is thrown as `TranscriptPDFError`
    /// (`OUTPUT_FAILED`, with the sink's error as `underlying`).
    public static func render(_ document: TranscriptDocument, timeZone: TimeZone = .gmt,
                              into sink: (Data) throws -> Void) throws {
        try render(document, timeZone: timeZone, bytes: { try sink(Data($0)) })
    }

    /// Streams the PDF into a file, replacing it. On failure the partial file is removed.
    public static func render(_ document: TranscriptDocument, timeZone: TimeZone = .gmt, to file: URL) throws {
        let handle: FileHandle
        do {
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
            }
            handle = try FileHandle(forWritingTo: file)
        } catch {
            throw TranscriptPDFError.output(error, context: "opening \(file.path)")
        }
        // cairo writes many small pieces; gather them so the file sees few large writes.
        var buffer = Data()
        let flushSize = 64 * 1024
        do {
            try render(document, timeZone: timeZone, bytes: { bytes in
                buffer.append(contentsOf: bytes)
                if buffer.count >= flushSize {
                    try handle.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            })
            do {
                try handle.write(contentsOf: buffer)
                try handle.close()
            } catch {
                throw TranscriptPDFError.output(error, context: "writing \(file.path)")
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: file)
            throw error
        }
    }

    /// The one path every public variant takes. The non-escaping sink is lent to cairo for
    /// exactly this call: the renderer, surface and stream are locals and are gone before
    /// `withoutActuallyEscaping` returns.
    static func render(_ document: TranscriptDocument, timeZone: TimeZone,
                       bytes sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let blocks = TranscriptBlocks.make(document, timeZone: timeZone)
        try withoutActuallyEscaping(sink) { sink in
            let renderer = try TranscriptRenderer(output: PDFOutputStream(sink: sink), title: document.title)
            try renderer.render(blocks)
        }
    }
}
