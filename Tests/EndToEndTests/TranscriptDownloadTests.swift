import ChatDevKit
import Foundation
import Testing

/// A7/E5: the archived transcript as a PDF, read back with pdftotext.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct TranscriptDownloadTests {
    func pdfText(_ data: Data) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pdf-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pdf = folder.appendingPathComponent("t.pdf")
        try data.write(to: pdf)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/pdftotext")
        process.arguments = ["-enc", "UTF-8", pdf.path, "-"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }

    @Test func theVisitorAndTheAgentDownloadTheTranscriptAsPDF() async throws {
        try await RunningSystem.with { system in
            let client = system.client
            let agent = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Grete Müller")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token).status == 200)
            let lines = [(visitor.token, "Grüße aus Köln, ÄÖÜ äöü ß 😀"), (agent.token, "Hallo! <b>not bold</b> & <script>x</script>")]
            for (index, line) in lines.enumerated() {
                let posted = try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: line.0,
                                                      json: ["clientMessageId": "m\(index)", "text": line.1])
                #expect(posted.status == 202)
            }
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: agent.token).status == 200)
            let pdf = try await eventuallyValue("the archived transcript as PDF") { () -> ChatClient.Reply? in
                let reply = try await client.request("GET", "/api/v1/chats/\(chatId)/transcript.pdf?timeZone=Europe/Berlin", token: visitor.token)
                guard reply.status == 200, try pdfText(reply.data).contains("Hallo!") else { return nil }
                return reply
            }
            #expect(pdf.headers["content-type"] == "application/pdf")
            #expect(pdf.headers["content-disposition"]?.hasPrefix("attachment; filename=\"chat-") == true)
            #expect(pdf.data.starts(with: Data("%PDF".utf8)))
            let text = try pdfText(pdf.data)
            for (_, line) in lines { #expect(text.contains(line), "\(line) in the PDF") }
            for header in ["Customer Support", "Alice Adams", "Grete Müller"] { #expect(text.contains(header)) }
            // The agent too; a stranger and a bad time zone not.
            #expect(try await client.request("GET", "/api/v1/chats/\(chatId)/transcript.pdf", token: agent.token).status == 200)
            let stranger = try await client.visitor(named: "Mallory")
            #expect(try await client.request("GET", "/api/v1/chats/\(chatId)/transcript.pdf", token: stranger.token).status == 404)
            #expect(try await client.request("GET", "/api/v1/chats/\(chatId)/transcript.pdf?timeZone=Mars/Olympus", token: visitor.token).status == 422)
        }
    }
}
