import ChatDevKit
import DeliveryTestServers
import Foundation
import Testing

/// A7 and E5 against the real services: the transcript by e-mail through an SMTP relay (a
/// local sink here), and chats handed to a ticket system by signed webhooks with retries.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DeliveryEndToEndTests {
    @Test func transcriptsByEmailAndChatsByWebhook() async throws {
        let sink = try await SMTPSink.start()
        let secret = "whsec-" + UUID().uuidString
        // The first webhook call fails: the archiver's outbox retries it.
        let receiver = try await WebhookReceiver.start(secret: secret, failFirst: 1)
        defer { Task { await sink.stop(); await receiver.stop() } }
        let environment = ["PRESENCE_AGENTS": ArchiveEndToEndTests.accounts,
                           "ARCHIVER_SMTP_HOST": "127.0.0.1", "ARCHIVER_SMTP_PORT": String(sink.port), "ARCHIVER_SMTP_SECURITY": "none",
                           "ARCHIVER_SMTP_FROM": "transcripts@example.org",
                           "ARCHIVER_WEBHOOK_URL": "http://127.0.0.1:\(receiver.port)/hook", "ARCHIVER_WEBHOOK_SECRET": secret]
        try await RunningSystem.with(environment: environment) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let visitor = try await client.visitor(named: "Jürgen Groß")
            let chatId = try await system.converse(visitor: visitor, agent: alice.token, lines: ["Grüße aus München", "Servus Jürgen!"])
            _ = try await system.archived(chatId, messages: 2, token: alice.token)

            // E5: the ended chat reaches the webhook (after one refused attempt), signed.
            let closed = try await eventuallyValue(timeout: .seconds(30), "the chat.closed webhook delivered") { () -> WebhookReceiver.Seen? in
                let seen = receiver.requests.filter { $0.event == "chat.closed" }
                return seen.count >= 2 ? seen.last : nil
            }
            #expect(closed.signatureValid)
            #expect(Set(receiver.requests.filter { $0.event == "chat.closed" }.map(\.deliveryID)).count == 1, "a retry keeps its delivery id")
            let closedBody = try JSON.parse(Data(closed.body))
            #expect(closedBody["chat"]?["chatId"]?.string == chatId)
            #expect(closedBody["chat"]?["messages"]?.array.map { $0["text"]?.string ?? "" } == ["Grüße aus München", "Servus Jürgen!"])

            // A7: the visitor asks for the transcript by e-mail; a PDF arrives at the sink.
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/transcript/email", token: visitor.token,
                                             json: ["email": "not an address"]).status == 422)
            let asked = try await client.request("POST", "/api/v1/chats/\(chatId)/transcript/email", token: visitor.token,
                                                 json: ["email": "juergen@example.org", "timeZone": "Europe/Berlin"])
            #expect(asked.status == 202)
            #expect(asked.body["deliveryId"]?.string?.isEmpty == false)
            let mail = try await eventuallyValue("the mail at the sink") { sink.messages.first }
            #expect(mail.recipients == ["juergen@example.org"])
            #expect(mail.mailFrom == "transcripts@example.org")
            let parsed = ParsedMessage(mail.data)
            #expect(MIMEDecoding.encodedWords(parsed.header("Subject") ?? "").hasPrefix("Your chat transcript (Customer Support"))
            let parts = parsed.parts()
            try #require(parts.count == 2)
            #expect(String(decoding: parts[0].decodedBody(), as: UTF8.self).contains("Hello Jürgen Groß"))
            #expect(parts[1].header("Content-Type") == "application/pdf")
            let pdf = Data(parts[1].decodedBody())
            #expect(pdf.starts(with: Data("%PDF".utf8)))
            let text = try TranscriptDownloadTests().pdfText(pdf)
            for line in ["Grüße aus München", "Servus Jürgen!", "Customer Support", "Alice Adams"] { #expect(text.contains(line), "\(line) in the mailed PDF") }

            // E5: an agent hands the chat to the ticket system with a note; visitors cannot.
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/ticket", token: visitor.token, json: ["note": "x"]).status == 403)
            let ticket = try await client.request("POST", "/api/v1/chats/\(chatId)/ticket", token: alice.token, json: ["note": "Refund for order 4711"])
            #expect(ticket.status == 202)
            let seen = try await eventuallyValue("the ticket webhook") { receiver.requests.first { $0.event == "ticket.requested" } }
            #expect(seen.signatureValid)
            #expect(seen.deliveryID == ticket.body["deliveryId"]?.string)
            let body = try JSON.parse(Data(seen.body))
            #expect(body["note"]?.string == "Refund for order 4711")
            #expect(body["requestedBy"]?["id"]?.string == "alice")
            #expect(body["chat"]?["story"]?.array.isEmpty == false)
        }
    }
}
