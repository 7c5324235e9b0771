import ArchiverDelivery
import ChatRuntime
import ChatWire
import Foundation
import GRDB
import TranscriptPDF

/// Where the archiver sends transcripts and chats: an SMTP relay (A7) and a webhook (E5),
/// each optional. Both go through the durable `deliveries` outbox, written in the same
/// transaction as the event that asked, so nothing is lost across restarts.
public struct DeliverySettings: Sendable {
    /// Nil: e-mail is not set up (`ARCHIVER_SMTP_HOST` unset).
    public var smtp: SMTPSettings?
    /// Nil: no webhook (`ARCHIVER_WEBHOOK_URL` unset).
    public var webhookURL: String?
    public var webhookSecret: String
    /// Which events go to the webhook: `chat.closed`, `ticket.requested`.
    public var webhookEvents: Set<String>

    static let knownWebhookEvents: Set<String> = ["chat.closed", "ticket.requested"]

    init(environment: EnvironmentReader) throws(ConfigurationError) {
        let values = environment.values
        if let host = values["ARCHIVER_SMTP_HOST"], !host.isEmpty {
            let securityText = try environment.string("ARCHIVER_SMTP_SECURITY", default: "starttls")
            guard let security = SMTPSettings.Security(rawValue: securityText) else {
                throw ConfigurationError(variable: "ARCHIVER_SMTP_SECURITY", problem: "must be none, starttls or tls; got '\(securityText)'")
            }
            let defaultPort = switch security {
            case .none: 25
            case .startTLS: 587
            case .tls: 465
            }
            let from = try environment.string("ARCHIVER_SMTP_FROM", default: "livechat@localhost")
            guard from.contains("@"), !from.contains(where: \.isNewline) else {
                throw ConfigurationError(variable: "ARCHIVER_SMTP_FROM", problem: "must be an e-mail address; got '\(from)'")
            }
            smtp = SMTPSettings(host: host, port: try environment.int("ARCHIVER_SMTP_PORT", default: defaultPort, range: 1...65_535), security: security,
                                username: values["ARCHIVER_SMTP_USERNAME"], password: values["ARCHIVER_SMTP_PASSWORD"], from: from,
                                heloName: try environment.string("ARCHIVER_SMTP_HELO", default: "localhost"))
        }
        webhookSecret = ""
        webhookEvents = []
        if let url = values["ARCHIVER_WEBHOOK_URL"], !url.isEmpty {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ConfigurationError(variable: "ARCHIVER_WEBHOOK_URL", problem: "must be an http or https URL; got '\(url)'")
            }
            guard let secret = values["ARCHIVER_WEBHOOK_SECRET"], secret.utf8.count >= 16 else {
                throw ConfigurationError(variable: "ARCHIVER_WEBHOOK_SECRET", problem: "must be set (at least 16 characters) when ARCHIVER_WEBHOOK_URL is")
            }
            let events = Set(try environment.string("ARCHIVER_WEBHOOK_EVENTS", default: "chat.closed,ticket.requested")
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard events.isSubset(of: Self.knownWebhookEvents), !events.isEmpty else {
                throw ConfigurationError(variable: "ARCHIVER_WEBHOOK_EVENTS", problem: "must list some of chat.closed, ticket.requested; got '\(events.sorted().joined(separator: ","))'")
            }
            webhookURL = url
            webhookSecret = secret
            webhookEvents = events
        }
    }

    func sendsWebhook(_ event: String) -> Bool { webhookURL != nil && webhookEvents.contains(event) }
}

/// What the archiver puts in the `deliveries` outbox.
enum Deliveries {
    /// A7: the transcript as PDF to the address the visitor (or an agent) gave.
    static func transcriptMail(_ request: TranscriptEmailRequested, transcript: Transcript) throws -> MailMessage {
        let zone = TimeZone(identifier: request.timeZone) ?? .gmt
        let pdf = try TranscriptPDF.render(TranscriptDocument(transcript, departmentName: request.departmentName), timeZone: zone)
        let day = ISO8601DateFormatter.string(from: transcript.queuedAt, timeZone: zone, formatOptions: [.withFullDate])
        let text = """
            Hello \(transcript.visitor.displayName),

            attached is the transcript of your chat with \(request.departmentName) on \(day), as you asked.

            If you did not ask for it, you can ignore this message.
            """
        return MailMessage(to: [request.email], subject: "Your chat transcript (\(request.departmentName), \(day))", text: text,
                           attachments: [MailAttachment(filename: "chat-\(day)-\(transcript.chatId.prefix(8)).pdf", contentType: "application/pdf",
                                                        data: Array(pdf))])
    }

    /// The JSON a webhook receives: the event, the archived chat with its story and
    /// transcript, and for tickets the agent's note.
    struct WebhookBody: Encodable {
        var event: String
        var chat: ArchivedChat
        var note: String?
        var requestedBy: Participant?
    }

    static func webhook(_ event: String, chat: ArchivedChat, url: String, note: String? = nil, requestedBy: Participant? = nil) throws -> WebhookRequest {
        let body = try WireCodec.encodeValue(WebhookBody(event: event, chat: chat, note: note, requestedBy: requestedBy))
        return WebhookRequest(url: url, eventType: event, body: Array(body))
    }
}
