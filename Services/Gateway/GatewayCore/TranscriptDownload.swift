import ChatRuntime
import ChatWire
import Foundation
import Hummingbird
import TranscriptPDF

/// A7/E5: the archived transcript as a PDF, rendered at the edge from what the archiver
/// answers (the archive stays the only source; rendering needs no state). Rendering is
/// blocking CPU work, so it runs off the cooperative pool.
enum TranscriptDownload {
    static func render(_ document: TranscriptDocument, timeZone: TimeZone) async throws -> Data {
        try await OffPool.run { try TranscriptPDF.render(document, timeZone: timeZone) }
    }

    /// The `timeZone` query parameter (an IANA name such as `Europe/Berlin`), UTC by default.
    static func timeZone(_ name: String?) throws -> TimeZone {
        guard let name, !name.isEmpty else { return .gmt }
        guard let zone = TimeZone(identifier: name) else { throw APIError.invalid("'\(name)' is not a time zone name such as Europe/Berlin.") }
        return zone
    }
}

extension GatewayHTTP {
    /// Every participant of the chat (visitor, agents of its department) may download it.
    @Sendable func transcriptPDF(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let zone = try TranscriptDownload.timeZone(request.uri.queryParameters.get("timeZone"))
        let transcript = try await operations.transcript(chatId: try context.parameters.require("chatId"), caller: caller)
        let department = try await operations.read { try GatewayStore.department($0, id: transcript.departmentId) }
        let document = TranscriptDocument(transcript, departmentName: department?.displayName ?? transcript.departmentId)
        let pdf: Data
        do {
            pdf = try await TranscriptDownload.render(document, timeZone: zone)
        } catch {
            throw APIError(.internalServerError, "pdf_failed", "The transcript could not be rendered as PDF.")
        }
        let day = ISO8601DateFormatter.string(from: transcript.queuedAt, timeZone: zone, formatOptions: [.withFullDate])
        return Response(status: .ok,
                        headers: [.contentType: "application/pdf",
                                  .contentDisposition: "attachment; filename=\"chat-\(day)-\(transcript.chatId.prefix(8)).pdf\""],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: pdf)))
    }
}
