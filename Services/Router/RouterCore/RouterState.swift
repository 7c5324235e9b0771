import ChatWire
import Foundation

/// A chat as the router sees it.
public struct RoutedChat: Sendable, Equatable {
    public enum Status: String, Sendable {
        case queued, assigned, closed
    }

    public var id: String
    public var departmentId: String
    public var visitor: Participant
    public var status: Status
    public var agent: Participant?
    public var queuedAt: Date

    public init(id: String, departmentId: String, visitor: Participant, status: Status, agent: Participant?, queuedAt: Date) {
        self.id = id
        self.departmentId = departmentId
        self.visitor = visitor
        self.status = status
        self.agent = agent
        self.queuedAt = queuedAt
    }
}

/// What the adapter must do after the state machine decided.
public enum RouterAction: Sendable, Equatable {
    case saveChat(RoutedChat)
    case saveDepartment(id: String, open: Bool)
    case publish(WireRecord)
}

/// The router's decisions as a value type: events in, actions out. It holds the open chats
/// and which departments are open; closed chats live only in the store, asked through
/// `isClosed`.
public struct RouterState: Sendable {
    public private(set) var openChats: [String: RoutedChat] = [:]
    public private(set) var openDepartments: Set<String> = []
    /// visitor id + department id → the visitor's open chat there.
    private var openChatByVisitor: [VisitorInDepartment: String] = [:]

    private struct VisitorInDepartment: Hashable {
        var visitorId: String
        var departmentId: String
    }

    public init(openChats: [RoutedChat] = [], openDepartments: Set<String> = []) {
        for chat in openChats where chat.status != .closed {
            self.openChats[chat.id] = chat
            openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = chat.id
        }
        self.openDepartments = openDepartments
    }

    /// Decides what `envelope` means. `producer` names this instance in the events it
    /// writes; `now` stamps them.
    public mutating func handle(_ envelope: Envelope, producer: String, now: Date, isClosed: (String) -> Bool) -> [RouterAction] {
        func publish(_ chatId: String, _ event: WireEvent) -> RouterAction {
            .publish(WireRecord(topic: .chatConversations, key: chatId, envelope: .caused(by: envelope, producer: producer, event: event, at: now)))
        }
        func reject(_ chatId: String, _ code: RequestRejected.Code, _ message: String, existing: String? = nil) -> [RouterAction] {
            [publish(chatId, .requestRejected(RequestRejected(chatId: chatId, code: code, message: message, existingChatId: existing)))]
        }
        func rejectMissing(_ chatId: String) -> [RouterAction] {
            isClosed(chatId)
                ? reject(chatId, .chatClosed, "This chat has already ended.")
                : reject(chatId, .unknownChat, "There is no such chat.")
        }

        switch envelope.event {
        case .departmentAvailabilityChanged(let change):
            guard openDepartments.contains(change.departmentId) != change.open else { return [] }
            if change.open { openDepartments.insert(change.departmentId) } else { openDepartments.remove(change.departmentId) }
            return [.saveDepartment(id: change.departmentId, open: change.open)]

        case .agentPresenceChanged(let presence) where presence.status == .offline:
            // Connection lost past the grace period (or logged out): the agent's chats go
            // back to their queues, in their original order.
            let held = openChats.values.filter { $0.status == .assigned && $0.agent?.id == presence.agentId }
                .sorted { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) }
            return held.flatMap { chat -> [RouterAction] in
                var requeued = chat
                requeued.status = .queued
                requeued.agent = nil
                openChats[chat.id] = requeued
                let event = ChatRequeued(chatId: chat.id, departmentId: chat.departmentId, previousAgent: chat.agent!, reason: .agentOffline)
                return [.saveChat(requeued), publish(chat.id, .chatRequeued(event))]
            }

        case .chatStartRequested(let request):
            let visitorKey = VisitorInDepartment(visitorId: request.visitor.id, departmentId: request.departmentId)
            if let existing = openChatByVisitor[visitorKey] {
                return reject(request.chatId, .alreadyOpen, "You already have an open chat with this department.", existing: existing)
            }
            if openChats[request.chatId] != nil || isClosed(request.chatId) {
                return reject(request.chatId, .alreadyOpen, "This chat was already requested.", existing: request.chatId)
            }
            guard openDepartments.contains(request.departmentId) else {
                return reject(request.chatId, .departmentClosed, "No agent of this department is available right now.")
            }
            let chat = RoutedChat(id: request.chatId, departmentId: request.departmentId, visitor: request.visitor, status: .queued, agent: nil, queuedAt: now)
            openChats[chat.id] = chat
            openChatByVisitor[visitorKey] = chat.id
            return [.saveChat(chat), publish(chat.id, .chatQueued(ChatQueued(chatId: chat.id, departmentId: chat.departmentId, visitor: chat.visitor, queuedAt: now)))]

        case .chatTakeRequested(let request):
            guard var chat = openChats[request.chatId], chat.departmentId == request.departmentId else {
                return rejectMissing(request.chatId)
            }
            guard chat.status == .queued else {
                let owner = chat.agent?.id == request.agent.id ? "you" : chat.agent?.displayName ?? "another agent"
                return reject(chat.id, .alreadyTaken, "This chat was already taken by \(owner).")
            }
            chat.status = .assigned
            chat.agent = request.agent
            openChats[chat.id] = chat
            return [.saveChat(chat), publish(chat.id, .chatAssigned(ChatAssigned(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent, reason: .manualPick)))]

        case .chatCloseRequested(let request):
            guard var chat = openChats[request.chatId], chat.departmentId == request.departmentId else {
                return rejectMissing(request.chatId)
            }
            let requester = request.requestedBy
            let mayClose = (requester.role == .visitor && requester.id == chat.visitor.id)
                || (requester.role == .agent && requester.id == chat.agent?.id)
            guard mayClose else {
                return reject(chat.id, .notParticipant, "Only the visitor or the agent handling this chat can end it.")
            }
            chat.status = .closed
            openChats[chat.id] = nil
            openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = nil
            return [.saveChat(chat), publish(chat.id, .chatClosed(ChatClosed(chatId: chat.id, departmentId: chat.departmentId, closedBy: requester)))]

        default:
            return []
        }
    }
}
