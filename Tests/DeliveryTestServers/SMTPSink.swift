import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A small SMTP server on 127.0.0.1 that records what it receives: EHLO/HELO, AUTH
/// PLAIN/LOGIN, optional STARTTLS or implicit TLS, MAIL, RCPT, DATA (dot-unstuffed), QUIT.
public final class SMTPSink: Sendable {
    public struct Behavior: Sendable {
        /// Reply to every RCPT instead of 250, e.g. "451 4.3.0 try again later".
        public var rcptReply: String?
        /// Reply to the end of DATA instead of 250.
        public var dataReply: String?
        /// Offer STARTTLS with this context.
        public var startTLS: NIOSSLContext?
        /// TLS from the first byte with this context.
        public var implicitTLS: NIOSSLContext?
        public var host = "127.0.0.1"

        public init(rcptReply: String? = nil, dataReply: String? = nil, startTLS: NIOSSLContext? = nil, implicitTLS: NIOSSLContext? = nil) {
            self.rcptReply = rcptReply
            self.dataReply = dataReply
            self.startTLS = startTLS
            self.implicitTLS = implicitTLS
        }
    }

    public struct Received: Sendable {
        public var helo: String
        public var mailFrom: String
        public var recipients: [String]
        /// The message as transmitted, with the dot-stuffing undone.
        public var data: String
        /// "user\0password" from AUTH PLAIN or AUTH LOGIN.
        public var credentials: String?
        public var encrypted: Bool
    }

    struct Record: Sendable {
        var connections = 0
        public var messages: [Received] = []
        public var commands: [String] = []
    }

    public let port: Int
    private let channel: any Channel
    let record: Recorder

    final class Recorder: Sendable {
        let state = Mutex(Record())
    }

    private init(port: Int, channel: any Channel, record: Recorder) {
        self.port = port
        self.channel = channel
        self.record = record
    }

    public static func start(_ behavior: Behavior = Behavior()) async throws -> SMTPSink {
        let recorder = Recorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let context = behavior.implicitTLS {
                        try pipeline.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try pipeline.addHandler(ByteToMessageHandler(LineDecoder()))
                    try pipeline.addHandler(SMTPSinkHandler(behavior: behavior, recorder: recorder))
                }
            }
            .bind(host: behavior.host, port: 0).get()
        return SMTPSink(port: channel.localAddress!.port!, channel: channel, record: recorder)
    }

    public func stop() async {
        try? await channel.close()
    }

    public var messages: [Received] { record.state.withLock { $0.messages } }
    public var connections: Int { record.state.withLock { $0.connections } }
    public var commands: [String] { record.state.withLock { $0.commands } }
}

/// Lines without their CRLF (or LF).
private struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        var line = buffer.readString(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

private final class SMTPSinkHandler: ChannelInboundHandler {
    typealias InboundIn = String
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case command
        case data
        case authPlain
        case authLoginUser
        case authLoginPassword(user: String)
    }

    private let behavior: SMTPSink.Behavior
    private let recorder: SMTPSink.Recorder
    private var mode = Mode.command
    private var encrypted: Bool
    private var helo = ""
    private var mailFrom = ""
    private var recipients: [String] = []
    private var data = ""
    private var credentials: String?

    init(behavior: SMTPSink.Behavior, recorder: SMTPSink.Recorder) {
        self.behavior = behavior
        self.recorder = recorder
        encrypted = behavior.implicitTLS != nil
    }

    func channelActive(context: ChannelHandlerContext) {
        recorder.state.withLock { $0.connections += 1 }
        send("220 sink.test ESMTP ready", context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data input: NIOAny) {
        let line = unwrapInboundIn(input)
        switch mode {
        case .data:
            if line == "." {
                mode = .command
                let reply = behavior.dataReply ?? "250 2.0.0 queued"
                if reply.hasPrefix("250") {
                    let message = SMTPSink.Received(helo: helo, mailFrom: mailFrom, recipients: recipients, data: data,
                                                    credentials: credentials, encrypted: encrypted)
                    recorder.state.withLock { $0.messages.append(message) }
                }
                send(reply, context: context)
            } else {
                data += (line.hasPrefix(".") ? String(line.dropFirst()) : line) + "\r\n"
            }
        case .authPlain:
            mode = .command
            authPlain(line, context: context)
        case .authLoginUser:
            mode = .authLoginPassword(user: decode(line))
            send("334 UGFzc3dvcmQ6", context: context)
        case .authLoginPassword(let user):
            mode = .command
            credentials = user + "\0" + decode(line)
            send("235 2.7.0 authenticated", context: context)
        case .command:
            command(line, context: context)
        }
    }

    private func command(_ line: String, context: ChannelHandlerContext) {
        recorder.state.withLock { $0.commands.append(line) }
        let verb = line.split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
        let argument = line.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        switch verb {
        case "EHLO":
            helo = argument
            var lines = ["sink.test greets \(argument)", "PIPELINING", "AUTH PLAIN LOGIN"]
            if behavior.startTLS != nil && !encrypted { lines.append("STARTTLS") }
            lines.append("8BITMIME")
            let text = lines.enumerated().map { index, text in "250\(index == lines.count - 1 ? " " : "-")\(text)" }
            send(text.joined(separator: "\r\n"), context: context)
        case "HELO":
            helo = argument
            send("250 sink.test", context: context)
        case "STARTTLS":
            guard let tls = behavior.startTLS, !encrypted else { return send("502 5.5.1 not offered", context: context) }
            send("220 2.0.0 ready to start TLS", context: context)
            // The 220 is already on its way to the socket; everything after it is TLS.
            try! context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            encrypted = true
            helo = ""
        case "AUTH":
            let parts = argument.split(separator: " ")
            switch parts.first?.uppercased() {
            case "PLAIN" where parts.count == 2:
                authPlain(String(parts[1]), context: context)
            case "PLAIN":
                mode = .authPlain
                send("334 ", context: context)
            case "LOGIN":
                mode = .authLoginUser
                send("334 VXNlcm5hbWU6", context: context)
            default:
                send("504 5.5.4 unknown mechanism", context: context)
            }
        case "MAIL":
            mailFrom = address(argument)
            recipients = []
            send("250 2.1.0 ok", context: context)
        case "RCPT":
            if let reply = behavior.rcptReply { return send(reply, context: context) }
            recipients.append(address(argument))
            send("250 2.1.5 ok", context: context)
        case "DATA":
            data = ""
            mode = .data
            send("354 end with <CRLF>.<CRLF>", context: context)
        case "RSET":
            mailFrom = ""
            recipients = []
            send("250 2.0.0 ok", context: context)
        case "NOOP":
            send("250 2.0.0 ok", context: context)
        case "QUIT":
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "221 2.0.0 bye\r\n"))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        default:
            send("500 5.5.2 unknown command", context: context)
        }
    }

    private func authPlain(_ token: String, context: ChannelHandlerContext) {
        let decoded = decode(token)
        credentials = String(decoded.drop(while: { $0 != "\0" }).dropFirst())
        send("235 2.7.0 authenticated", context: context)
    }

    private func decode(_ base64: String) -> String {
        String(decoding: Data(base64Encoded: base64) ?? Data(), as: UTF8.self)
    }

    private func address(_ argument: String) -> String {
        guard let open = argument.firstIndex(of: "<"), let close = argument.lastIndex(of: ">") else { return argument }
        return String(argument[argument.index(after: open)..<close])
    }

    private func send(_ text: String, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
