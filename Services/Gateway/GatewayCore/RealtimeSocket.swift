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
    let logger: Logger

    static let path = "/api/v1/socket"

    func shouldUpgrade(_ request: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let target = request.path, let components = URLComponents(string: target), components.path == Self.path else {
            return .dontUpgrade
        }
        let token = components.queryItems?.first { $0.name == "token" }?.value
        let caller = token.flatMap { signer.verify($0) }
        return .upgrade([:]) { inbound, outbound, _ in
            guard let caller else {
                try await outbound.write(.text(APIJSON.string(ErrorFrame(code: "unauthorized", message: "A valid access token is required."))))
                try await outbound.close(.policyViolation, reason: "unauthorized")
                return
            }
            try await serve(caller: caller, inbound: inbound, outbound: outbound)
        }
    }

    private func serve(caller: Caller, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let connectionID = WireID.make()
        let departments = Set(try await operations.agentDepartments(caller))
        let (pushes, continuation) = AsyncStream.makeStream(of: SocketPush.self, bufferingPolicy: .bufferingOldest(10_000))
        hub.add(.init(id: connectionID, caller: caller, departmentIds: departments, pushes: continuation))
        logger.info("socket opened", metadata: ["connection": "\(connectionID)", "role": "\(caller.role.rawValue)", "caller": "\(caller.id)"])
        if caller.role == .agent {
            try? await operations.publish(.presenceCommands, key: caller.id, .agentConnected(
                AgentConnected(agentId: caller.id, connectionId: connectionID, gatewayId: operations.gatewayID)))
        }
        defer {
            logger.info("socket closed", metadata: ["connection": "\(connectionID)"])
            hub.remove(connectionID)
            if caller.role == .agent {
                let operations = operations
                Task {
                    try? await operations.publish(.presenceCommands, key: caller.id, .agentDisconnected(
                        AgentDisconnected(agentId: caller.id, connectionId: connectionID, gatewayId: operations.gatewayID)))
                }
            }
        }
        // Registered before this read, so nothing stored after it is missed. Pushes start
        // after each open chat's last message; `resume` fetches earlier ones.
        let (chats, lastSeq) = try await operations.read { db in
            let chats = try GatewayStore.openChats(db, of: caller)
            return (chats, try Dictionary(uniqueKeysWithValues: chats.map { ($0.chatId, try GatewayStore.lastSeq(db, chatId: $0.chatId)) }))
        }
        continuation.yield(.frame(APIJSON.string(HelloFrame(connectionId: connectionID, role: caller.role.rawValue, id: caller.id,
                                                            displayName: caller.displayName, chats: chats, lastSeq: lastSeq))))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await write(pushes, to: outbound, cursors: lastSeq) }
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
            case .resume(let chatId, let afterSeq):
                cursors[chatId] = afterSeq
                try await catchUp(chatId, cursors: &cursors, outbound: outbound)
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
        var afterSeq: Int?
        var available: Bool?
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
        do {
            switch frame.type {
            case "ping":
                send(["type": "pong"])
            case "message.send":
                guard let chatId = frame.chatId, let clientMessageId = frame.clientMessageId, let text = frame.text else {
                    throw APIError.malformed("message.send needs chatId, clientMessageId and text.")
                }
                let accepted = try await operations.post(chatId: chatId, clientMessageId: clientMessageId, text: text, sender: caller)
                send(AcceptedFrame(chatId: accepted.chatId, clientMessageId: accepted.messageId))
            case "resume":
                guard let chatId = frame.chatId, let afterSeq = frame.afterSeq, afterSeq >= 0 else {
                    throw APIError.malformed("resume needs chatId and afterSeq (0 or more).")
                }
                _ = try await operations.visibleChat(chatId, to: caller)
                reply.yield(.resume(chatId: chatId, afterSeq: afterSeq))
            case "availability.set":
                guard let available = frame.available else { throw APIError.malformed("availability.set needs available (true or false).") }
                try await operations.setAvailability(available, agent: caller)
            default:
                throw APIError(.badRequest, "unknown_type", "Unknown frame type '\(frame.type)'.")
            }
        } catch let error as APIError {
            send(ErrorFrame(code: error.code, message: error.message, chatId: frame.chatId, clientMessageId: frame.clientMessageId))
        } catch {
            logger.error("socket request failed", metadata: ["error": "\(error)"])
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
    /// Per open chat, the seq of its last message when the socket opened.
    var lastSeq: [String: Int]
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
