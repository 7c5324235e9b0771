import ChatWire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOWebSocket

/// The WebSocket protocol (docs/realtime.md): one socket per browser tab at
/// `/api/v1/socket?token=...`, JSON text frames both ways.
struct RealtimeSocket {
    let operations: ChatOperations
    let signer: AccessTokenSigner
    let hub: ConnectionHub
    let allowedOrigins: AllowedOrigins
    let logger: Logger

    static let path = "/api/v1/socket"

    func shouldUpgrade(_ request: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let target = request.path, let components = URLComponents(string: target), components.path == Self.path else {
            return .dontUpgrade
        }
        let token = components.queryItems?.first { $0.name == "token" }?.value
        let resume = Self.resumePoints(components.queryItems?.first { $0.name == "resume" }?.value)
        // Every Origin value must be allowed (a browser sends one); pages the gateway serves
        // itself (same origin as the Host it was reached at) always are.
        let host = request.authority ?? ""
        let origins = request.headerFields[values: .origin].filter { $0 != "null" && $0 != "http://\(host)" && $0 != "https://\(host)" }
        return .upgrade([:]) { inbound, outbound, _ in
            if !origins.allSatisfy(allowedOrigins.allows) {
                try await outbound.write(.text(APIJSON.string(ErrorFrame(code: "origin_not_allowed", message: "This site may not use this chat."))))
                try await outbound.close(.policyViolation, reason: "origin not allowed")
                return
            }
            // No token: a widget watching whether departments are open, before its visitor
            // has an identity. It gets `department.updated` frames and nothing else.
            if token == nil {
                try await watch(inbound: inbound, outbound: outbound)
                return
            }
            let caller: Caller
            do {
                caller = try await operations.authenticate(token: token ?? "")
            } catch let error as APIError {
                try await outbound.write(.text(APIJSON.string(ErrorFrame(code: error.code, message: error.message))))
                try await outbound.close(.policyViolation, reason: "unauthorized")
                return
            }
            guard let resume else {
                try await outbound.write(.text(APIJSON.string(ErrorFrame(code: "malformed_request", message: "resume must be chatId:afterSeq pairs separated by commas."))))
                try await outbound.close(.policyViolation, reason: "malformed resume")
                return
            }
            try await serve(caller: caller, resume: resume, inbound: inbound, outbound: outbound)
        }
    }

    private func watch(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let connectionID = WireID.make()
        let (pushes, continuation) = AsyncStream.makeStream(of: SocketPush.self, bufferingPolicy: .bufferingOldest(1_000))
        let watcher = Caller(role: .system, id: "watcher-" + connectionID, displayName: "watcher")
        hub.add(.init(id: connectionID, caller: watcher, departmentIds: [], pushes: continuation))
        defer { hub.remove(connectionID) }
        let departments = try await operations.read { try GatewayStore.departments($0) }
        try await outbound.write(.text(APIJSON.string(WatcherHelloFrame(connectionId: connectionID, departments: departments))))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await write(pushes, to: outbound, cursors: [:]) }
            group.addTask {
                for try await message in inbound.messages(maxSize: 4_096) {
                    if case .text(let text) = message, text.contains("\"ping\"") { continuation.yield(.frame(#"{"type":"pong"}"#)) }
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// `resume=chatA:12,chatB:0`: for each chat, the seq of the last message the client
    /// has. Nil when malformed; empty when absent.
    static func resumePoints(_ text: String?) -> [String: Int]? {
        guard let text, !text.isEmpty else { return [:] }
        var points: [String: Int] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2, let seq = Int(parts.last!), seq >= 0 else { return nil }
            let chatId = parts.dropLast().joined(separator: ":")
            guard WireID.isValid(chatId) else { return nil }
            points[chatId] = seq
        }
        return points
    }

    private func serve(caller: Caller, resume: [String: Int], inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let connectionID = WireID.make()
        let departments = Set(try await operations.visibleDepartments(caller))
        let (pushes, continuation) = AsyncStream.makeStream(of: SocketPush.self, bufferingPolicy: .bufferingOldest(10_000))
        hub.add(.init(id: connectionID, caller: caller, departmentIds: departments, pushes: continuation))
        logger.info("socket opened", metadata: ["connection": "\(connectionID)", "role": "\(caller.role.rawValue)", "caller": "\(caller.id)"])
        // Agents are connected for presence; staff with other roles only watch.
        let isAgent = caller.has(.agent)
        if isAgent {
            try? await operations.presence.connected(agentId: caller.id, connectionId: connectionID)
        }
        defer {
            logger.info("socket closed", metadata: ["connection": "\(connectionID)"])
            let signedOut = hub.closedBySessionEnd(connectionID)
            hub.remove(connectionID)
            let operations = operations
            if isAgent {
                Task {
                    try? await operations.presence.disconnected(agentId: caller.id, connectionId: connectionID, signedOut: signedOut)
                }
            }
            if caller.role == .visitor {
                Task {
                    let chats = (try? await operations.read { try GatewayStore.openChats($0, of: caller) }) ?? []
                    operations.visitors.closed(visitorId: caller.id, chats: chats)
                }
            }
        }
        // Registered before this read, so nothing stored after it is missed. Each open chat
        // starts where the client said it is (`resume`), else after its last message.
        let (chats, lastSeq) = try await operations.read { db in
            let chats = try GatewayStore.openChats(db, of: caller)
            return (chats, try Dictionary(uniqueKeysWithValues: chats.map { ($0.chatId, try GatewayStore.lastSeq(db, chatId: $0.chatId)) }))
        }
        if caller.role == .visitor { operations.visitors.opened(visitorId: caller.id, chats: chats) }
        var cursors = lastSeq
        var refused: [String] = []
        for (chatId, afterSeq) in resume {
            let visible = lastSeq[chatId] != nil ? true : (try? await operations.visibleChat(chatId, to: caller)) != nil
            if visible { cursors[chatId] = afterSeq } else { refused.append(chatId) }
        }
        // Written before the writer starts, so `hello` is always the first frame.
        try await outbound.write(.text(APIJSON.string(HelloFrame(connectionId: connectionID, role: caller.role.rawValue, id: caller.id,
                                                                 displayName: caller.displayName, chats: chats, lastSeq: lastSeq))))
        for chatId in refused.sorted() {
            try await outbound.write(.text(APIJSON.string(ErrorFrame(code: "chat_not_found", message: "Cannot resume a chat that is not yours.", chatId: chatId))))
        }
        for chatId in resume.keys.sorted() where !refused.contains(chatId) {
            continuation.yield(.catchUp(chatId: chatId))
        }
        let startCursors = cursors
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await write(pushes, to: outbound, cursors: startCursors) }
            group.addTask {
                for try await message in inbound.messages(maxSize: 65_536) {
                    await handle(message, from: caller, reply: continuation)
                }
            }
            // Either side ending ends the socket.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// Sends pushes in order. Messages go out through per-chat cursors read from the
    /// store, so each socket gets every message of its chats once, in order, with no gap.
    private func write(_ pushes: AsyncStream<SocketPush>, to outbound: WebSocketOutboundWriter, cursors initial: [String: Int]) async throws {
        var cursors = initial
        for await push in pushes {
            switch push {
            case .frame(let text):
                try await outbound.write(.text(text))
            case .catchUp(let chatId):
                try await catchUp(chatId, cursors: &cursors, outbound: outbound)
            }
        }
    }

    private func catchUp(_ chatId: String, cursors: inout [String: Int], outbound: WebSocketOutboundWriter) async throws {
        while true {
            let after = cursors[chatId] ?? 0
            let messages = try await operations.read { try GatewayStore.messages($0, chatId: chatId, after: after) }
            guard let last = messages.last else { return }
            for message in messages {
                try await outbound.write(.text(APIJSON.string(MessageFrame(message: message))))
            }
            cursors[chatId] = last.seq
        }
    }

    // MARK: Client frames

    private struct ClientFrame: Decodable {
        var type: String
        var chatId: String?
        var clientMessageId: String?
        var text: String?
        var available: Bool?
        var busy: Bool?
        var typing: Bool?
    }

    private func handle(_ message: WebSocketMessage, from caller: Caller, reply: AsyncStream<SocketPush>.Continuation) async {
        func send(_ frame: some Encodable) { reply.yield(.frame(APIJSON.string(frame))) }
        guard case .text(let text) = message else {
            send(ErrorFrame(code: "unsupported_frame", message: "Send JSON in text frames."))
            return
        }
        let frame: ClientFrame
        do {
            frame = try decodeJSON(ClientFrame.self, from: Data(text.utf8))
        } catch {
            send(ErrorFrame(code: "malformed_frame", message: "A frame must be a JSON object with a string 'type'."))
            return
        }
        // Each frame is its own request: the events it causes share this correlation id.
        let correlation = WireID.make()
        // Anything an agent sends but a ping is activity (B2: away after idle).
        if frame.type != "ping" { await operations.noteActivity(of: caller) }
        do {
            try await RequestCorrelation.$id.withValue(correlation) {
                switch frame.type {
                case "ping":
                    send(["type": "pong"])
                case "message.send":
                    guard let chatId = frame.chatId, let clientMessageId = frame.clientMessageId, let text = frame.text else {
                        throw APIError.malformed("message.send needs chatId, clientMessageId and text.")
                    }
                    let accepted = try await operations.post(chatId: chatId, clientMessageId: clientMessageId, text: text, sender: caller)
                    send(AcceptedFrame(chatId: accepted.chatId, clientMessageId: accepted.messageId))
                case "typing":
                    guard let chatId = frame.chatId, let typing = frame.typing else {
                        throw APIError.malformed("typing needs chatId and typing (true or false).")
                    }
                    try await operations.typing(chatId: chatId, typing: typing, sender: caller)
                case "availability.set":
                    try await operations.setAvailability(frame.available, busy: frame.busy, agent: caller)
                case "activity":
                    // The console saw its user type, click or move (sent every few seconds at most).
                    break
                default:
                    throw APIError(.badRequest, "unknown_type", "Unknown frame type '\(frame.type)'.")
                }
            }
        } catch let error as APIError {
            send(ErrorFrame(code: error.code, message: error.message, chatId: frame.chatId, clientMessageId: frame.clientMessageId))
        } catch {
            logger.error("socket request failed", metadata: ["error": "\(error)", "requestId": "\(correlation)", "frame": "\(frame.type)"])
            send(ErrorFrame(code: "internal", message: "Something went wrong on our side.", chatId: frame.chatId, clientMessageId: frame.clientMessageId))
        }
    }
}

struct HelloFrame: Encodable {
    var type = "hello"
    var connectionId: String
    var role: String
    var id: String
    var displayName: String
    /// The caller's open chats (visitor: own; agent: assigned).
    var chats: [ChatView]
    /// Per open chat, the seq of its last message when the socket opened. Messages after
    /// it (or after the `resume` point the client gave) are pushed.
    var lastSeq: [String: Int]
}

/// First frame of a socket without a token: which departments are open right now.
struct WatcherHelloFrame: Encodable {
    var type = "hello"
    var connectionId: String
    var role = "watcher"
    var departments: [DepartmentView]
}

struct MessageFrame: Encodable {
    var type = "message"
    var message: MessageView
}

struct AcceptedFrame: Encodable {
    var type = "message.accepted"
    var chatId: String
    var clientMessageId: String
}

struct ErrorFrame: Encodable {
    var type = "error"
    var code: String
    var message: String
    var chatId: String?
    var clientMessageId: String?
}
