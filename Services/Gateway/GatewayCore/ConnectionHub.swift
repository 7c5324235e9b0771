import ChatWire
import Foundation
import Synchronization

/// What a socket's writer is asked to do, in order.
enum SocketPush: Sendable {
    /// Send this frame as it is.
    case frame(String)
    /// Send every stored message of the chat after what this socket already got.
    case catchUp(chatId: String)
}

/// The open WebSockets of this gateway instance and who is behind each, so committed
/// changes reach exactly the sockets that may see them.
final class ConnectionHub: Sendable {
    struct Connection: Sendable {
        var id: String
        var caller: Caller
        /// For agents: the departments whose queue they see.
        var departmentIds: Set<String>
        var pushes: AsyncStream<SocketPush>.Continuation
    }

    private let connections = Mutex<[String: Connection]>([:])
    /// Sockets closed because their session ended (sign-out, revocation, disabled account).
    private let endedSessions = Mutex<Set<String>>([])

    func add(_ connection: Connection) {
        connections.withLock { $0[connection.id] = connection }
    }

    func remove(_ id: String) {
        connections.withLock { $0.removeValue(forKey: id) }?.pushes.finish()
    }

    var count: Int { connections.withLock { $0.count } }

    /// Whether the socket was closed because its session ended (then it does not get the
    /// grace period of a lost connection); forgets it.
    func closedBySessionEnd(_ id: String) -> Bool {
        endedSessions.withLock { $0.remove(id) != nil }
    }

    /// Closes the sockets of the account's sessions it no longer accepts, telling each why.
    private func endSessions(of account: AccountUpdated) {
        let ended = connections.withLock { connections in
            connections.values.filter { connection in
                connection.caller.role == .agent && connection.caller.id == account.agentId
                    && !account.accepts(sessionId: connection.caller.sessionId ?? "", issuedAt: connection.caller.issuedAt ?? .distantPast)
            }.map(\.id)
        }
        guard !ended.isEmpty else { return }
        endedSessions.withLock { $0.formUnion(ended) }
        let frame = APIJSON.string(ErrorFrame(code: "session_ended", message: "Your session has ended; sign in again."))
        push(frame: frame) { ended.contains($0.id) }
        for id in ended {
            connections.withLock { $0[id] }?.pushes.finish()
        }
    }

    func deliver(_ effects: [GatewayEffect]) {
        for effect in effects {
            switch effect {
            case .queuePositionChanged(let chat):
                push(frame: APIJSON.string(ChatUpdatedFrame(chat: chat, change: "position"))) {
                    $0.caller.role == .visitor && $0.caller.id == chat.visitor.id
                }
            case .chatChanged(let chat, let change):
                let frame = APIJSON.string(ChatUpdatedFrame(chat: chat, change: change))
                push(frame: frame) { $0.caller.role != .visitor && $0.departmentIds.contains(chat.departmentId) }
                // After the close, changes are the agent's wrap-up: not the visitor's business.
                if chat.status != "closed" || change == "closed" {
                    push(frame: APIJSON.string(ChatUpdatedFrame(chat: chat.seenByVisitor, change: change))) {
                        $0.caller.role == .visitor && $0.caller.id == chat.visitor.id
                    }
                }
                let agents = chat.agentIds
                if !agents.isEmpty {
                    // A newly assigned or invited agent gets the conversation so far.
                    push(.catchUp(chatId: chat.chatId)) { $0.caller.role == .agent && agents.contains($0.caller.id) }
                }
            case .messageStored(let chatId, let agentIds, let visitorId):
                push(.catchUp(chatId: chatId)) { connection in
                    switch connection.caller.role {
                    case .visitor: connection.caller.id == visitorId
                    case .agent: agentIds.contains(connection.caller.id)
                    case .system: false
                    }
                }
            case .agentChanged(let agent):
                let frame = APIJSON.string(AgentUpdatedFrame(agent: agent))
                push(frame: frame) { $0.caller.role == .agent && !$0.departmentIds.isDisjoint(with: agent.departmentIds) }
            case .typing(let typing, let agentIds, let visitorId):
                let frame = APIJSON.string(TypingFrame(chatId: typing.chatId, typing: typing.typing,
                                                       sender: .init(role: typing.sender.role.rawValue, id: typing.sender.id, displayName: typing.sender.displayName)))
                push(frame: frame) { connection in
                    guard connection.caller.id != typing.sender.id else { return false }
                    switch connection.caller.role {
                    case .visitor: return connection.caller.id == visitorId
                    case .agent: return agentIds.contains(connection.caller.id)
                    case .system: return false
                    }
                }
            case .overviewChanged(let overview):
                push(frame: APIJSON.string(QueueOverviewFrame(queue: overview))) {
                    $0.caller.role == .agent && $0.departmentIds.contains(overview.departmentId)
                }
            case .departmentChanged(let department):
                push(frame: APIJSON.string(DepartmentUpdatedFrame(department: department))) { _ in true }
            case .accountChanged(let account):
                endSessions(of: account)
                push(frame: APIJSON.string(AccountUpdatedFrame(account: AccountView(account)))) {
                    $0.caller.has(.admin) || ($0.caller.role == .agent && $0.caller.id == account.agentId)
                }
            case .reply:
                break
            }
        }
    }

    private func push(frame: String, to matches: (Connection) -> Bool) {
        push(.frame(frame), to: matches)
    }

    private func push(_ push: SocketPush, to matches: (Connection) -> Bool) {
        let overflowing: [String] = connections.withLock { connections in
            connections.values.filter(matches).compactMap { connection in
                if case .dropped = connection.pushes.yield(push) { return connection.id }
                return nil
            }
        }
        // A socket that cannot keep up is closed; its client reconnects and resumes.
        for id in overflowing { remove(id) }
    }
}

struct ChatUpdatedFrame: Encodable {
    var type = "chat.updated"
    var chat: ChatView
    /// What happened: queued, assigned, returned_to_queue, agent_offline, transferred,
    /// parked, unparked, closed, or position (a waiting chat moved up).
    var change: String
}

struct QueueOverviewFrame: Encodable {
    var type = "queue.overview"
    var queue: QueueOverview
}

struct DepartmentUpdatedFrame: Encodable {
    var type = "department.updated"
    var department: DepartmentView
}

/// Someone else in the chat started or stopped typing. Clients hide it after a few seconds
/// without a repeat, and when that person's message arrives.
struct TypingFrame: Encodable {
    var type = "typing"
    var chatId: String
    var typing: Bool
    var sender: MessageView.SenderView
}

/// An account changed (registration, approval, roles...): admins' account lists and the
/// account's own consoles follow.
struct AccountUpdatedFrame: Encodable {
    var type = "account.updated"
    var account: AccountView
}

/// B4: an agent of a department the receiver shares changed state; replace that entry of the
/// people view.
struct AgentUpdatedFrame: Encodable {
    var type = "agent.updated"
    var agent: AgentView
}
