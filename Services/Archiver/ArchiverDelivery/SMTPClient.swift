import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Submits one mail per connection over SMTP (RFC 5321): optional implicit TLS or
/// STARTTLS, EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT. All I/O is non-blocking NIO.
public struct SMTPClient: Sendable {
    public let settings: SMTPSettings
    private let eventLoopGroup: any EventLoopGroup

    public init(settings: SMTPSettings, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.settings = settings
        self.eventLoopGroup = eventLoopGroup
    }

    /// Sends `message` with Message-ID `<messageID@heloName>`. Returns once the server
    /// accepted the DATA (a failing QUIT afterwards does not matter). 4xx replies,
    /// timeouts and connection errors are transient failures, 5xx replies and invalid
    /// messages permanent; nothing is sent when the message is invalid. A refused
    /// recipient ends the transaction before DATA, so a retry never duplicates the mail.
    public func send(_ message: MailMessage, messageID: String) async throws(DeliveryFailure) {
        let content = try MIMEComposer.compose(message, from: settings.from, messageID: messageID, heloName: settings.heloName,
                                               date: Date(), boundary: MIMEComposer.makeBoundary())
        let tlsContext = try makeTLSContext()
        let channel: any Channel
        do {
            channel = try await connect(tlsContext: settings.security == .tls ? tlsContext : nil)
        } catch {
            throw .transient("SMTP \(endpoint): cannot connect: \(error)")
        }
        do {
            let session = try await SMTPSession(channel: channel, timeout: settings.timeout.timeAmount, endpoint: endpoint)
            // Shutdown (task cancellation) closes the connection, which ends the wait for
            // the current reply; the delivery stays pending and is retried later.
            try await withTaskCancellationHandler {
                try await transaction(session, message: message, content: MIMEComposer.dotStuffed(content), tlsContext: tlsContext)
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            channel.close(promise: nil)
            if let failure = error as? DeliveryFailure { throw failure }
            throw .transient("SMTP \(endpoint): \(error)")
        }
        channel.close(promise: nil)
    }

    private var endpoint: String { "\(settings.host):\(settings.port)" }

    private func transaction(_ session: SMTPSession, message: MailMessage, content: [UInt8], tlsContext: NIOSSLContext?) async throws(DeliveryFailure) {
        try session.expect(await session.reply(to: nil, step: "greeting"), 220, step: "greeting")
        var capabilities = try await hello(session)
        var encrypted = settings.security == .tls
        if settings.security == .startTLS, let tlsContext {
            guard capabilities.offers("STARTTLS") else {
                throw .permanent("SMTP \(endpoint): server does not offer STARTTLS")
            }
            try session.expect(await session.reply(to: "STARTTLS", step: "STARTTLS"), 220, step: "STARTTLS")
            try await session.startTLS(context: tlsContext, serverHostname: sniName)
            encrypted = true
            capabilities = try await hello(session)
        }
        if let username = settings.username {
            try await authenticate(session, username: username, password: settings.password ?? "",
                                   mechanisms: capabilities.authMechanisms, encrypted: encrypted)
        }
        try session.expect(await session.reply(to: "MAIL FROM:<\(settings.from)>", step: "MAIL FROM"), 250, step: "MAIL FROM")
        for recipient in message.to {
            let step = "RCPT TO:<\(recipient)>"
            let reply = try await session.reply(to: step, step: step)
            if reply.code != 251 { try session.expect(reply, 250, step: step) }
        }
        try session.expect(await session.reply(to: "DATA", step: "DATA"), 354, step: "DATA")
        try session.expect(await session.send(ByteBuffer(bytes: content), step: "message body"), 250, step: "message body")
        // Accepted: from here on nothing may turn this into a failure (it would be sent again).
        _ = try? await session.reply(to: "QUIT", step: "QUIT")
    }

    /// EHLO, or HELO (no extensions) when the server does not know EHLO.
    private func hello(_ session: SMTPSession) async throws(DeliveryFailure) -> SMTPReply {
        let ehlo = try await session.reply(to: "EHLO \(settings.heloName)", step: "EHLO")
        if ehlo.code == 250 { return ehlo }
        guard [500, 502, 504].contains(ehlo.code) else {
            try session.expect(ehlo, 250, step: "EHLO")
            return ehlo
        }
        let helo = try await session.reply(to: "HELO \(settings.heloName)", step: "HELO")
        try session.expect(helo, 250, step: "HELO")
        return SMTPReply(code: 250, lines: [helo.lines.first ?? ""])
    }

    private func authenticate(_ session: SMTPSession, username: String, password: String,
                              mechanisms: Set<String>, encrypted: Bool) async throws(DeliveryFailure) {
        let plain = mechanisms.contains("PLAIN")
        guard plain || mechanisms.contains("LOGIN") else { return }  // the server wants no login
        guard encrypted || session.peerIsLoopback else {
            throw .permanent("SMTP \(endpoint): refusing to send credentials over an unencrypted connection (use starttls or tls)")
        }
        if plain {
            let token = Base64.encode([0] + Array(username.utf8) + [0] + Array(password.utf8))
            try session.expect(await session.reply(to: "AUTH PLAIN \(token)", step: "AUTH PLAIN"), 235, step: "AUTH PLAIN")
        } else {
            try session.expect(await session.reply(to: "AUTH LOGIN", step: "AUTH LOGIN"), 334, step: "AUTH LOGIN")
            try session.expect(await session.reply(to: Base64.encode(Array(username.utf8)), step: "AUTH LOGIN user"), 334, step: "AUTH LOGIN user")
            try session.expect(await session.reply(to: Base64.encode(Array(password.utf8)), step: "AUTH LOGIN password"), 235, step: "AUTH LOGIN password")
        }
    }

    private func connect(tlsContext: NIOSSLContext?) async throws -> any Channel {
        let sniName = self.sniName
        return try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(settings.timeout.timeAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: sniName))
                    }
                    try pipeline.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try pipeline.addHandler(SMTPReplyHandler())
                }
            }
            .connect(host: settings.host, port: settings.port)
            .get()
    }

    private func makeTLSContext() throws(DeliveryFailure) -> NIOSSLContext? {
        guard settings.security != .none else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = settings.certificateVerification
        if let trustRoots = settings.trustRoots { configuration.trustRoots = trustRoots }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .permanent("SMTP TLS configuration: \(error)")
        }
    }

    /// SNI carries host names only; for an IP literal the certificate is checked against
    /// the address instead.
    private var sniName: String? {
        var v4 = in_addr()
        var v6 = in6_addr()
        let isAddress = inet_pton(AF_INET, settings.host, &v4) == 1 || inet_pton(AF_INET6, settings.host, &v6) == 1
        return isAddress ? nil : settings.host
    }
}

/// One open SMTP connection: a command at a time, each with its own time limit.
struct SMTPSession: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<SMTPReplyHandler>
    let timeout: TimeAmount
    let endpoint: String

    init(channel: any Channel, timeout: TimeAmount, endpoint: String) async throws {
        self.channel = channel
        self.timeout = timeout
        self.endpoint = endpoint
        handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self), eventLoop: channel.eventLoop)
        }.get()
    }

    /// Sends `line` (nil: nothing, e.g. for the greeting) and returns the reply.
    func reply(to line: String?, step: String) async throws(DeliveryFailure) -> SMTPReply {
        try await send(line.map { ByteBuffer(string: $0 + "\r\n") }, step: step)
    }

    func send(_ bytes: ByteBuffer?, step: String) async throws(DeliveryFailure) -> SMTPReply {
        let handler = self.handler
        let timeout = self.timeout
        let loop = channel.eventLoop
        do {
            return try await loop.flatSubmit { handler.value.exchange(bytes, timeout: timeout, eventLoop: loop) }.get()
        } catch {
            throw .transient("SMTP \(endpoint) \(step): \(error)")
        }
    }

    /// 5xx is permanent; anything else unexpected (4xx, odd codes) transient.
    func expect(_ reply: SMTPReply, _ code: Int, step: String) throws(DeliveryFailure) {
        guard reply.code != code else { return }
        let description = "SMTP \(endpoint) \(step): \(reply.code) \(reply.text)"
        throw (500..<600).contains(reply.code) ? .permanent(description) : .transient(description)
    }

    /// Puts TLS in front of everything else; the next command goes out encrypted.
    func startTLS(context: NIOSSLContext, serverHostname: String?) async throws(DeliveryFailure) {
        let channel = self.channel
        do {
            try await channel.eventLoop.submit {
                let handler = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
        } catch {
            throw .transient("SMTP \(endpoint) STARTTLS: \(error)")
        }
    }

    /// Credentials may go in clear text to a server on this machine only.
    var peerIsLoopback: Bool {
        guard let ip = channel.remoteAddress?.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.lowercased().hasPrefix("::ffff:127.")
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 else { return .nanoseconds(.max) }
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
