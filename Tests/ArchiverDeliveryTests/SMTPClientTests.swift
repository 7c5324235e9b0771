import DeliveryTestServers
import ArchiverDelivery
import Foundation
import NIOSSL
import Testing

@Suite("SMTP client against a real SMTP server on loopback")
struct SMTPClientTests {
    static let subject = "Transkript: Gespräch mit Jürgen Größe – Öffnungszeiten, Übergabe und Rückfragen ✓ (Teil 2)"
    static let longLine = String((0..<2_000).map { index in Array("abcdefghij= äöü.")[index % 16] })
    static let text = [
        "Hallo Jürgen,",
        ".",
        "..zwei Punkte am Anfang",
        ".ein Punkt am Anfang",
        longLine,
        "Leerzeichen am Ende   ",
        "Tab am Ende\t",
        "=?UTF-8?B?kein-Header?=",
        "",
        "Ende.",
    ].joined(separator: "\n")
    static let pdf = Array("%PDF-1.4\n".utf8) + (0..<8).flatMap { _ in (0...255).map { UInt8($0) } }

    func settings(port: Int) -> SMTPSettings {
        SMTPSettings(host: "127.0.0.1", port: port, from: "archiver@livechat.test", heloName: "archiver.livechat.test", timeout: .seconds(5))
    }

    @Test func mailWithUmlautSubjectDotsLongLineAndPDFArrivesIntact() async throws {
        let sink = try await SMTPSink.start()
        defer { Task { await sink.stop() } }
        let message = MailMessage(to: ["visitor@example.test", "copy@example.test"], subject: Self.subject, text: Self.text,
                                  attachments: [MailAttachment(filename: "Gesprächsverlauf 2025.pdf", contentType: "application/pdf", data: Self.pdf)])
        try await SMTPClient(settings: settings(port: sink.port)).send(message, messageID: "delivery-42")

        let received = try #require(sink.messages.first)
        #expect(sink.messages.count == 1)
        #expect(received.helo == "archiver.livechat.test")
        #expect(received.mailFrom == "archiver@livechat.test")
        #expect(received.recipients == ["visitor@example.test", "copy@example.test"])
        #expect(received.credentials == nil)
        #expect(sink.commands.last == "QUIT")
        for line in received.data.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 998)
            #expect(line.utf8.allSatisfy { $0 < 128 }, "8-bit data in \(line)")
        }

        let mail = ParsedMessage(received.data)
        #expect(MIMEDecoding.encodedWords(mail.header("Subject") ?? "") == Self.subject)
        #expect(mail.header("From") == "archiver@livechat.test")
        #expect(mail.header("To") == "visitor@example.test, copy@example.test")
        #expect(mail.header("Message-ID") == "<delivery-42@archiver.livechat.test>")
        #expect(mail.header("MIME-Version") == "1.0")
        #expect(mail.header("Date")?.hasSuffix("+0000") == true)
        #expect(mail.header("Content-Type")?.hasPrefix("multipart/mixed;") == true)

        let parts = mail.parts()
        try #require(parts.count == 2)
        #expect(parts[0].header("Content-Type") == "text/plain; charset=utf-8")
        let text = String(decoding: parts[0].decodedBody(), as: UTF8.self)
        #expect(text == Self.text.replacingOccurrences(of: "\n", with: "\r\n"))

        #expect(parts[1].header("Content-Type") == "application/pdf")
        #expect(parts[1].header("Content-Transfer-Encoding") == "base64")
        let disposition = try #require(parts[1].header("Content-Disposition"))
        #expect(disposition.hasPrefix("attachment;"))
        #expect(MIMEDecoding.extendedValue(parts[1].parameter("filename*", of: "Content-Disposition") ?? "") == "Gesprächsverlauf 2025.pdf")
        let base64Lines = parts[1].body.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(base64Lines.dropLast().allSatisfy { $0.count == 76 })
        #expect(parts[1].decodedBody() == Self.pdf)
    }

    @Test func plainTextMailWithoutAttachments() async throws {
        let sink = try await SMTPSink.start()
        defer { Task { await sink.stop() } }
        try await SMTPClient(settings: settings(port: sink.port))
            .send(MailMessage(to: ["a@example.test"], subject: "Your transcript", text: "Line 1\n.\nLine 3"), messageID: "m1")
        let mail = ParsedMessage(try #require(sink.messages.first).data)
        #expect(mail.header("Subject") == "Your transcript")
        #expect(mail.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(String(decoding: mail.decodedBody(), as: UTF8.self) == "Line 1\r\n.\r\nLine 3\r\n")
    }

    @Test func authPlainCredentialsArrive() async throws {
        let sink = try await SMTPSink.start()
        defer { Task { await sink.stop() } }
        var settings = settings(port: sink.port)
        settings.username = "archiver"
        settings.password = "pässwörd with spaces"
        try await SMTPClient(settings: settings).send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "m2")
        #expect(sink.messages.first?.credentials == "archiver\0pässwörd with spaces")
        #expect(sink.commands.contains { $0.hasPrefix("AUTH PLAIN ") })
    }

    @Test(arguments: [
        (SMTPSink.Behavior(rcptReply: "451 4.3.0 try again later"), false),
        (SMTPSink.Behavior(rcptReply: "550 5.1.1 no such user"), true),
        (SMTPSink.Behavior(dataReply: "451 4.3.0 queue full"), false),
        (SMTPSink.Behavior(dataReply: "550 5.7.1 content rejected"), true),
    ])
    func refusalsMapToTransientAndPermanentFailures(behavior: SMTPSink.Behavior, permanent: Bool) async throws {
        let sink = try await SMTPSink.start(behavior)
        defer { Task { await sink.stop() } }
        let failure = await #expect(throws: DeliveryFailure.self) {
            try await SMTPClient(settings: settings(port: sink.port)).send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "m3")
        }
        #expect(failure?.permanent == permanent)
        #expect(failure?.description.contains(permanent ? "550" : "451") == true)
        #expect(sink.messages.isEmpty)
        if behavior.rcptReply != nil { #expect(!sink.commands.contains("DATA")) }
    }

    @Test(arguments: [
        MailMessage(to: ["a@example.test"], subject: "Hello\r\nBcc: x@evil.test", text: "t"),
        MailMessage(to: ["a@example.test"], subject: "Hello\nBcc: x@evil.test", text: "t"),
        MailMessage(to: ["a@example.test\r\nBcc: x@evil.test"], subject: "s", text: "t"),
        MailMessage(to: ["a@example.test"], subject: "s", text: "t",
                    attachments: [MailAttachment(filename: "a.pdf\"\r\nBcc: x@evil.test", contentType: "application/pdf", data: [1])]),
        MailMessage(to: [], subject: "s", text: "t"),
    ])
    func headerInjectionAndInvalidMessagesAreRefusedBeforeConnecting(message: MailMessage) async throws {
        let sink = try await SMTPSink.start()
        defer { Task { await sink.stop() } }
        let failure = await #expect(throws: DeliveryFailure.self) {
            try await SMTPClient(settings: settings(port: sink.port)).send(message, messageID: "m4")
        }
        #expect(failure?.permanent == true)
        #expect(sink.connections == 0)
        #expect(sink.messages.isEmpty)
    }

    @Test func refusedConnectionIsTransient() async throws {
        let port = try await TestSupport.unusedPort()
        let failure = await #expect(throws: DeliveryFailure.self) {
            try await SMTPClient(settings: settings(port: port)).send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "m5")
        }
        #expect(failure?.permanent == false)
    }

    @Test(.enabled(if: TestSupport.nonLoopbackIPv4 != nil, "needs a non-loopback IPv4 address"))
    func credentialsAreNotSentInClearTextToARemoteHost() async throws {
        let address = try #require(TestSupport.nonLoopbackIPv4)
        var behavior = SMTPSink.Behavior()
        behavior.host = address
        let sink = try await SMTPSink.start(behavior)
        defer { Task { await sink.stop() } }
        var settings = settings(port: sink.port)
        settings.host = address
        settings.username = "archiver"
        settings.password = "secret"
        let failure = await #expect(throws: DeliveryFailure.self) {
            try await SMTPClient(settings: settings).send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "m6")
        }
        #expect(failure?.permanent == true)
        #expect(!sink.commands.contains { $0.hasPrefix("AUTH") })
        #expect(sink.messages.isEmpty)
    }
}

@Suite("SMTP over TLS (self-signed certificate made with the openssl CLI)", .enabled(if: TestSupport.hasOpenSSL, "needs /usr/bin/openssl"))
struct SMTPTLSTests {
    let certificate: NIOSSLCertificate
    let serverContext: NIOSSLContext

    init() throws {
        let made = try TestSupport.selfSignedCertificate()
        certificate = made.certificate
        serverContext = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(made.certificate)],
                                                                                    privateKey: .privateKey(made.key)))
    }

    func settings(port: Int, security: SMTPSettings.Security) -> SMTPSettings {
        SMTPSettings(host: "localhost", port: port, security: security, username: "archiver", password: "secret",
                     from: "archiver@livechat.test", timeout: .seconds(5), trustRoots: .certificates([certificate]))
    }

    @Test func startTLSUpgradesBeforeAuthenticating() async throws {
        let sink = try await SMTPSink.start(SMTPSink.Behavior(startTLS: serverContext))
        defer { Task { await sink.stop() } }
        try await SMTPClient(settings: settings(port: sink.port, security: .startTLS))
            .send(MailMessage(to: ["a@example.test"], subject: "über TLS", text: "geheim"), messageID: "t1")
        let received = try #require(sink.messages.first)
        #expect(received.encrypted)
        #expect(received.credentials == "archiver\0secret")
        #expect(sink.commands.prefix(3).map { $0.split(separator: " ").first.map(String.init) } == ["EHLO", "STARTTLS", "EHLO"])
    }

    @Test func implicitTLS() async throws {
        let sink = try await SMTPSink.start(SMTPSink.Behavior(implicitTLS: serverContext))
        defer { Task { await sink.stop() } }
        try await SMTPClient(settings: settings(port: sink.port, security: .tls))
            .send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "t2")
        #expect(sink.messages.first?.encrypted == true)
    }

    @Test func serverWithoutStartTLSIsRefused() async throws {
        let sink = try await SMTPSink.start()
        defer { Task { await sink.stop() } }
        let failure = await #expect(throws: DeliveryFailure.self) {
            try await SMTPClient(settings: settings(port: sink.port, security: .startTLS))
                .send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "t3")
        }
        #expect(failure?.permanent == true)
        #expect(!sink.commands.contains { $0.hasPrefix("AUTH") || $0.hasPrefix("MAIL") })
    }

    @Test func untrustedCertificateFailsAndSendsNothing() async throws {
        let sink = try await SMTPSink.start(SMTPSink.Behavior(startTLS: serverContext))
        defer { Task { await sink.stop() } }
        var settings = settings(port: sink.port, security: .startTLS)
        settings.trustRoots = nil  // the system's roots do not know the self-signed certificate
        let failure = await #expect(throws: DeliveryFailure.self) {
            try await SMTPClient(settings: settings).send(MailMessage(to: ["a@example.test"], subject: "s", text: "t"), messageID: "t4")
        }
        #expect(failure?.permanent == false)
        #expect(sink.messages.isEmpty)
        #expect(!sink.commands.contains { $0.hasPrefix("AUTH") || $0.hasPrefix("MAIL") })
    }
}
