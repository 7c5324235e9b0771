import ChatWire
import Foundation

/// The JSON shapes the HTTP API and the WebSocket protocol send (docs/openapi.yaml,
/// docs/realtime.md). Times are ISO 8601 with milliseconds.
public struct PersonView: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String
    /// A visitor's contact name ("Guest-N", E2).
    public var contact: String? = nil
}

public struct ChatView: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    /// `queued`, `offered` (waiting for one agent to accept), `assigned`, `parked`,
    /// `transferring` (to another department, until its queue holds it) or `closed`.
    public var status: String
    public var visitor: PersonView
    public var agent: PersonView?
    /// Agents the owner invited into the chat (C6); they see and write too.
    public var invitedAgents: [PersonView] = []
    /// While `offered`: the agent it is offered to, and until when they may accept it.
    public var offeredTo: PersonView?
    public var offerExpiresAt: Date?
    public var queuedAt: Date
    public var closedAt: Date?
    /// Active handling time before `activeSince` (kept across parks), and when the current
    /// active stretch began; a console shows `handledSeconds + (now - activeSince)`.
    public var handledSeconds: Double
    public var activeSince: Date?
    /// While queued: 1 for the next chat to be served in its department.
    public var position: Int?
    /// While queued: `position` × how long a place takes: the average handling time of the
    /// department's last 20 closed chats divided by its agents online in its queue (before
    /// any chat closed: the average wait of its last 20 assigned chats).
    public var estimatedWaitSeconds: Double?
    /// An offline message (A2): the e-mail address the visitor wants the answer at.
    public var contactEmail: String? = nil
    /// What the visitor entered in the pre-chat form (A3); absent when nothing.
    public var preChat: PreChatAnswers? = nil
    /// Who ended the chat (the visitor or the agent), once closed.
    public var closedBy: MessageView.SenderView? = nil
    /// After the chat closed: its agent's after-chat work (C8). Agents only.
    public var wrapUp: WrapUpView? = nil
}

public struct WrapUpView: Codable, Sendable, Equatable {
    /// `active` until the agent finishes it, then `done`.
    public var state: String
    /// Time before `since` (the whole time once `done`).
    public var seconds: Double
    /// When the running stretch began; absent while parked or done.
    public var since: Date?
}

extension ChatView {
    /// The owner and the invited agents.
    var agentIds: [String] { (agent.map { [$0.id] } ?? []) + invitedAgents.map(\.id) }

    /// What the visitor sees: the agent's after-chat work is not theirs to see.
    var seenByVisitor: ChatView {
        var view = self
        view.wrapUp = nil
        return view
    }
}

public struct MessageView: Codable, Sendable, Equatable {
    public var chatId: String
    /// 1, 2, 3... per chat, in the order the conversation log holds the messages.
    public var seq: Int
    public var messageId: String
    public var sender: SenderView
    public var text: String
    public var sentAt: Date

    public struct SenderView: Codable, Sendable, Equatable {
        public var role: String
        public var id: String
        public var displayName: String
    }
}

public struct DepartmentView: Codable, Sendable, Equatable {
    public var departmentId: String
    public var displayName: String
    public var open: Bool
    public var availableAgents: Int
    /// What a visitor fills in before a chat starts (A3); empty when the admin defined none.
    public var preChatForm: PreChatForm
}

/// A department's queue at a glance (C11), for agents and supervisors.
public struct QueueOverview: Codable, Sendable, Equatable {
    public var departmentId: String
    public var displayName: String
    public var open: Bool
    public var waiting: Int
    /// Assigned or parked chats.
    public var ongoing: Int
    /// Agents of the department who are online, and those of them logged in to this queue.
    public var agentsOnline: Int
    public var agentsLoggedIn: Int
    /// Logged in, available and not busy: they get its chats.
    public var agentsAvailable: Int
    /// How long the oldest waiting chat has waited (0 when none waits).
    public var longestWaitSeconds: Double
}

public struct AgentView: Codable, Sendable, Equatable {
    public var agentId: String
    public var displayName: String
    public var departmentIds: [String]
    public var status: String
    public var available: Bool
    public var busy: Bool
    /// The departments whose queues the agent is logged in to (B5).
    public var queues: [String]

    /// The colour of the people view (B4): `available` (green), `busy` (yellow), `away`
    /// (idle, B2), `unavailable` (red, online but not taking chats) or `offline`.
    public var state: String {
        if status == "away" { return "away" }
        guard status == "online" else { return "offline" }
        if busy { return "busy" }
        return available ? "available" : "unavailable"
    }

    enum CodingKeys: String, CodingKey {
        case agentId, displayName, departmentIds, status, available, busy, queues, state
    }

    public init(agentId: String, displayName: String, departmentIds: [String], status: String, available: Bool, busy: Bool, queues: [String]) {
        self.agentId = agentId
        self.displayName = displayName
        self.departmentIds = departmentIds
        self.status = status
        self.available = available
        self.busy = busy
        self.queues = queues
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(agentId: try container.decode(String.self, forKey: .agentId), displayName: try container.decode(String.self, forKey: .displayName),
                  departmentIds: try container.decode([String].self, forKey: .departmentIds), status: try container.decode(String.self, forKey: .status),
                  available: try container.decode(Bool.self, forKey: .available), busy: try container.decode(Bool.self, forKey: .busy),
                  queues: try container.decodeIfPresent([String].self, forKey: .queues) ?? [])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(agentId, forKey: .agentId)
        try container.encode(displayName, forKey: .displayName)
        try container.encode(departmentIds, forKey: .departmentIds)
        try container.encode(status, forKey: .status)
        try container.encode(available, forKey: .available)
        try container.encode(busy, forKey: .busy)
        try container.encode(queues, forKey: .queues)
        try container.encode(state, forKey: .state)
    }
}

/// JSON coding for the public API, matching the wire's time format.
enum APIJSON {
    static let encoder = WireCodec.makeEncoder()

    static func encode(_ value: some Encodable) -> Data {
        // Our views hold only strings, numbers, booleans and dates: encoding cannot fail.
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func string(_ value: some Encodable) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }
}
