import Foundation

/// Who takes part in a conversation.
public struct Participant: Codable, Sendable, Equatable, Hashable {
    public enum Role: String, Codable, Sendable {
        case visitor, agent, system
    }

    public var role: Role
    public var id: String
    public var displayName: String

    public init(role: Role, id: String, displayName: String) {
        self.role = role
        self.id = id
        self.displayName = displayName
    }
}

// MARK: chat.commands (gateway → router)

/// A visitor asks for a chat in a department. `chatId` is chosen by the gateway; the
/// router answers with `chat.queued` or `request.rejected` on that chat's key.
public struct ChatStartRequested: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var visitor: Participant
    /// Present for an offline message (A2): the visitor left a message while nobody was
    /// available; the chat is queued even though the department is closed, and agents
    /// answer by e-mail or when they take it.
    public var contactEmail: String?
    /// What the visitor entered in the department's pre-chat form (A3), as the gateway
    /// validated it.
    public var preChat: PreChatAnswers?
    /// The visitor's contact name ("Guest-N", E2), the same for every chat of their token.
    public var contact: String?
    public init(chatId: String, departmentId: String, visitor: Participant, contactEmail: String? = nil, preChat: PreChatAnswers? = nil,
                contact: String? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.visitor = visitor
        self.contactEmail = contactEmail
        self.preChat = preChat
        self.contact = contact
    }
}

/// A department's pre-chat form as the admin defined it (A3).
public struct PreChatForm: Codable, Sendable, Equatable {
    public struct Field: Codable, Sendable, Equatable {
        /// How the field is entered and checked. A string on the wire; a reader keeps a
        /// value it does not know and treats it as text.
        public struct Kind: RawRepresentable, Codable, Sendable, Hashable {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }
            public static let text = Kind(rawValue: "text")
            public static let email = Kind(rawValue: "email")
            public static let phone = Kind(rawValue: "phone")
            /// Several lines.
            public static let textarea = Kind(rawValue: "textarea")
            /// One of `options`.
            public static let select = Kind(rawValue: "select")
            public static let known: [Kind] = [.text, .email, .phone, .textarea, .select]
        }

        /// Stable key of the answer (`company`); the label may change later.
        public var id: String
        public var label: String
        public var kind: Kind
        public var required: Bool
        /// The choices of a `select` field; empty for the other kinds.
        public var options: [String]
        public init(id: String, label: String, kind: Kind, required: Bool, options: [String] = []) {
            self.id = id
            self.label = label
            self.kind = kind
            self.required = required
            self.options = options
        }
    }

    public var fields: [Field]
    /// What the visitor's request is about ("Billing"); empty when the department has none.
    public var categories: [String]
    public var categoryRequired: Bool

    public static let empty = PreChatForm(fields: [], categories: [], categoryRequired: false)

    public init(fields: [Field], categories: [String], categoryRequired: Bool) {
        self.fields = fields
        self.categories = categories
        self.categoryRequired = categoryRequired
    }
}

/// The visitor's answers to a pre-chat form, with each field's label as it was asked.
public struct PreChatAnswers: Codable, Sendable, Equatable {
    public struct Answer: Codable, Sendable, Equatable {
        public var id: String
        public var label: String
        public var value: String
        public init(id: String, label: String, value: String) {
            self.id = id
            self.label = label
            self.value = value
        }
    }

    /// In the form's order; only the fields the visitor filled in.
    public var answers: [Answer]
    public var category: String?
    public init(answers: [Answer], category: String?) {
        self.answers = answers
        self.category = category
    }

    public var isEmpty: Bool { answers.isEmpty && category == nil }
}

/// An agent picks a waiting chat (manual pick).
public struct ChatTakeRequested: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public init(chatId: String, departmentId: String, agent: Participant) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
    }
}

/// A participant ends a chat.
public struct ChatCloseRequested: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var requestedBy: Participant
    public init(chatId: String, departmentId: String, requestedBy: Participant) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.requestedBy = requestedBy
    }
}

/// The agent handling a chat acts on it: return it to the queue, park or unpark it, or
/// transfer it to another department or agent.
public struct ChatOwnerActionRequested: Codable, Sendable, Equatable {
    public struct Action: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let returnToQueue = Action(rawValue: "return_to_queue")
        public static let park = Action(rawValue: "park")
        public static let unpark = Action(rawValue: "unpark")
        public static let transfer = Action(rawValue: "transfer")
        /// Bring `toAgentId` into the chat next to the owner (C6).
        public static let invite = Action(rawValue: "invite")
        /// Turn down a chat offered to this agent; it is offered to the next one.
        public static let decline = Action(rawValue: "decline")
        /// End the after-chat work (wrap-up) of a closed chat (C8).
        public static let finishWrapUp = Action(rawValue: "finish_wrapup")
    }

    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var action: Action
    /// For `transfer`: the department to queue the chat in.
    public var toDepartmentId: String?
    /// For `transfer`: the agent to hand the chat to (same department).
    public var toAgentId: String?
    public init(chatId: String, departmentId: String, agent: Participant, action: Action, toDepartmentId: String? = nil, toAgentId: String? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.action = action
        self.toDepartmentId = toDepartmentId
        self.toAgentId = toAgentId
    }
}

/// Router to router: a chat transferred into `departmentId` joins its queue. Keyed by
/// the target department, so the instance owning that queue admits it.
public struct ChatTransferIn: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var fromDepartmentId: String
    public var visitor: Participant
    public var queuedAt: Date
    public init(chatId: String, departmentId: String, fromDepartmentId: String, visitor: Participant, queuedAt: Date) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.fromDepartmentId = fromDepartmentId
        self.visitor = visitor
        self.queuedAt = queuedAt
    }
}

// MARK: chat.conversations (router and gateway → gateway, archiver)

/// The owner parked (or unparked) a chat: it stays theirs but does not count as active.
/// `handlingSeconds` is the active handling time so far, kept across parks.
public struct ChatParkChanged: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var handlingSeconds: Double
    /// Why, when the router did it by itself: `call` (the agent's phone call began or
    /// ended, C9). Absent when the agent parked or resumed the chat.
    public var reason: String?
    public init(chatId: String, departmentId: String, agent: Participant, handlingSeconds: Double, reason: String? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.handlingSeconds = handlingSeconds
        self.reason = reason
    }
}

/// The router offers a waiting chat to one agent, who has until `expiresAt` to accept it
/// (by taking it); otherwise it goes to the next agent.
public struct ChatOffered: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var expiresAt: Date
    public var decision: ChatAssigned.Decision
    public init(chatId: String, departmentId: String, agent: Participant, expiresAt: Date, decision: ChatAssigned.Decision) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.expiresAt = expiresAt
        self.decision = decision
    }
}

/// An offer ended without being accepted; the chat waits again.
public struct ChatOfferWithdrawn: Codable, Sendable, Equatable {
    public struct Reason: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let timeout = Reason(rawValue: "timeout")
        public static let declined = Reason(rawValue: "declined")
        public static let agentOffline = Reason(rawValue: "agent_offline")
    }

    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var reason: Reason
    public init(chatId: String, departmentId: String, agent: Participant, reason: Reason) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.reason = reason
    }
}

/// After-chat work (C8): the agent who held a chat when it closed is in wrap-up for it
/// until they finish; parking the chat pauses the wrap-up timer.
public struct ChatWrapUpChanged: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    /// Wrap-up time so far (the final figure in `chat.wrapup_finished`).
    public var wrapUpSeconds: Double
    public init(chatId: String, departmentId: String, agent: Participant, wrapUpSeconds: Double) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.wrapUpSeconds = wrapUpSeconds
    }
}

/// A second agent joined a chat on the owner's invitation; both see and write.
public struct ChatAgentInvited: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var invitedBy: Participant
    public init(chatId: String, departmentId: String, agent: Participant, invitedBy: Participant) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.invitedBy = invitedBy
    }
}

/// A chat moved: to another department's queue (`toAgent` absent) or to another agent.
public struct ChatTransferred: Codable, Sendable, Equatable {
    public var chatId: String
    public var fromDepartmentId: String
    public var toDepartmentId: String
    public var previousAgent: Participant
    public var toAgent: Participant?
    public init(chatId: String, fromDepartmentId: String, toDepartmentId: String, previousAgent: Participant, toAgent: Participant?) {
        self.chatId = chatId
        self.fromDepartmentId = fromDepartmentId
        self.toDepartmentId = toDepartmentId
        self.previousAgent = previousAgent
        self.toAgent = toAgent
    }
}

public struct ChatQueued: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var visitor: Participant
    public var queuedAt: Date
    /// For an offline message: where the visitor wants the answer.
    public var contactEmail: String?
    /// The pre-chat answers of the start request (A3).
    public var preChat: PreChatAnswers?
    /// The visitor's contact name ("Guest-N", E2), from the start request.
    public var contact: String?
    public init(chatId: String, departmentId: String, visitor: Participant, queuedAt: Date, contactEmail: String? = nil, preChat: PreChatAnswers? = nil,
                contact: String? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.visitor = visitor
        self.queuedAt = queuedAt
        self.contactEmail = contactEmail
        self.preChat = preChat
        self.contact = contact
    }
}

public struct ChatAssigned: Codable, Sendable, Equatable {
    /// Why this agent got the chat, for audit. A string on the wire; readers keep values
    /// they do not know as they are, so new reasons need no new schema version.
    public struct Reason: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The agent picked the chat from the queue.
        public static let manualPick = Reason(rawValue: "manual_pick")
        /// The router chose the least-loaded available agent.
        public static let automatic = Reason(rawValue: "automatic")
        /// The agent accepted the router's offer.
        public static let offerAccepted = Reason(rawValue: "offer_accepted")
    }

    /// What an automatic assignment weighed: every eligible agent and their load.
    public struct Decision: Codable, Sendable, Equatable {
        public struct Candidate: Codable, Sendable, Equatable {
            public var agentId: String
            public var activeChats: Int
            public init(agentId: String, activeChats: Int) {
                self.agentId = agentId
                self.activeChats = activeChats
            }
        }

        /// `least_loaded`: fewest active chats first, then the agent id.
        public var rule: String
        public var maxChatsPerAgent: Int
        public var candidates: [Candidate]
        public init(rule: String, maxChatsPerAgent: Int, candidates: [Candidate]) {
            self.rule = rule
            self.maxChatsPerAgent = maxChatsPerAgent
            self.candidates = candidates
        }
    }

    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var reason: Reason
    public var decision: Decision?
    public init(chatId: String, departmentId: String, agent: Participant, reason: Reason, decision: Decision? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.reason = reason
        self.decision = decision
    }
}

public struct ChatClosed: Codable, Sendable, Equatable {
    public enum Reason: String, Codable, Sendable {
        /// The visitor closed the page and did not come back within the grace period (A10).
        case visitorLeft = "visitor_left"
    }

    public var chatId: String
    public var departmentId: String
    public var closedBy: Participant
    /// Absent: ended on purpose by `closedBy`.
    public var reason: Reason?
    public init(chatId: String, departmentId: String, closedBy: Participant, reason: Reason? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.closedBy = closedBy
        self.reason = reason
    }
}

/// A10: whether the visitor still has the chat open somewhere. A gateway sends `present`
/// false when the visitor's last socket of the chat on it closed, and true when one opens;
/// the router ends the chat when the visitor stays away past `ROUTER_VISITOR_GONE_SECONDS`
/// (a reload or a network drop comes back well within it). On `chat.commands`, key:
/// department id.
public struct ChatVisitorPresence: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var visitorId: String
    public var present: Bool
    public init(chatId: String, departmentId: String, visitorId: String, present: Bool) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.visitorId = visitorId
        self.present = present
    }
}

/// A chat went back to its department's queue, keeping its place (`queuedAt`).
public struct ChatRequeued: Codable, Sendable, Equatable {
    public struct Reason: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The agent's last connection closed and the grace period ran out.
        public static let agentOffline = Reason(rawValue: "agent_offline")
        /// The agent gave the chat back.
        public static let returnedByAgent = Reason(rawValue: "returned_by_agent")
    }

    public var chatId: String
    public var departmentId: String
    public var previousAgent: Participant
    public var reason: Reason
    public init(chatId: String, departmentId: String, previousAgent: Participant, reason: Reason) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.previousAgent = previousAgent
        self.reason = reason
    }
}

/// The router refused a request; nothing changed. `code` is stable, `message` is for people.
public struct RequestRejected: Codable, Sendable, Equatable {
    /// A string on the wire; readers keep codes they do not know as they are.
    public struct Code: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let alreadyTaken = Code(rawValue: "already_taken")
        public static let alreadyOpen = Code(rawValue: "already_open")
        public static let chatClosed = Code(rawValue: "chat_closed")
        public static let unknownChat = Code(rawValue: "unknown_chat")
        public static let departmentClosed = Code(rawValue: "department_closed")
        public static let notParticipant = Code(rawValue: "not_participant")
        /// Only the agent handling the chat may do this.
        public static let notOwner = Code(rawValue: "not_owner")
        /// Parking a parked chat, unparking an active one, acting on a waiting one.
        public static let invalidTransition = Code(rawValue: "invalid_transition")
        /// The transfer target has no available agent, or the agent is not available.
        public static let targetUnavailable = Code(rawValue: "target_unavailable")
        public static let unknownAction = Code(rawValue: "unknown_action")
    }

    public var chatId: String
    public var code: Code
    public var message: String
    /// For `already_open`: the visitor's chat that is still open.
    public var existingChatId: String?
    public init(chatId: String, code: Code, message: String, existingChatId: String? = nil) {
        self.chatId = chatId
        self.code = code
        self.message = message
        self.existingChatId = existingChatId
    }
}

/// A message in a chat, written by the gateway that received it. `messageId` is the
/// sender's client message id, so a resent message keeps its id and is stored once.
public struct MessagePosted: Codable, Sendable, Equatable {
    public var chatId: String
    public var messageId: String
    public var sender: Participant
    public var text: String
    public init(chatId: String, messageId: String, sender: Participant, text: String) {
        self.chatId = chatId
        self.messageId = messageId
        self.sender = sender
        self.text = text
    }
}

// MARK: presence.commands (gateway → presence)

public struct AgentConnected: Codable, Sendable, Equatable {
    public var agentId: String
    public var connectionId: String
    public var gatewayId: String
    public init(agentId: String, connectionId: String, gatewayId: String) {
        self.agentId = agentId
        self.connectionId = connectionId
        self.gatewayId = gatewayId
    }
}

public struct AgentDisconnected: Codable, Sendable, Equatable {
    public var agentId: String
    public var connectionId: String
    public var gatewayId: String
    /// True when the agent signed out: if it was their last connection they go offline at
    /// once, without the grace period a lost connection gets.
    public var signedOut: Bool?
    public init(agentId: String, connectionId: String, gatewayId: String, signedOut: Bool? = nil) {
        self.agentId = agentId
        self.connectionId = connectionId
        self.gatewayId = gatewayId
        self.signedOut = signedOut
    }
}

public struct AgentAvailabilitySet: Codable, Sendable, Equatable {
    public var agentId: String
    public var available: Bool
    /// Busy agents keep their chats and get no new ones (B2). Absent: unchanged.
    public var busy: Bool?
    public init(agentId: String, available: Bool, busy: Bool? = nil) {
        self.agentId = agentId
        self.available = available
        self.busy = busy
    }
}

/// A gateway instance (re)started: connections it reported before are gone. Written to
/// every partition, so each presence instance hears it.
public struct GatewayStarted: Codable, Sendable, Equatable {
    public var gatewayId: String
    public init(gatewayId: String) { self.gatewayId = gatewayId }
}

// MARK: presence.agents and presence.departments (presence → router, gateway)

public struct AgentPresenceChanged: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// `away`: online, but idle past the account's away time (B2); keeps their chats,
        /// gets no new ones, and is online again with their next activity.
        case online, away, offline
    }

    public var agentId: String
    public var displayName: String
    public var departmentIds: [String]
    public var status: Status
    public var available: Bool
    /// Present (true) while the agent is busy; readers treat absent as not busy.
    public var busy: Bool?
    /// The departments whose queues the agent is logged in to (B5); absent: all of
    /// `departmentIds`. Only logged-in agents get chats of a queue automatically and keep it open.
    public var queues: [String]?
    /// The agent's own maximum of concurrent chats; absent: the department's or the router's.
    public var maxChats: Int?
    public init(agentId: String, displayName: String, departmentIds: [String], status: Status, available: Bool, busy: Bool = false,
                queues: [String]? = nil, maxChats: Int? = nil) {
        self.agentId = agentId
        self.displayName = displayName
        self.departmentIds = departmentIds
        self.status = status
        self.available = available
        self.busy = busy ? true : nil
        self.queues = queues
        self.maxChats = maxChats
    }

    /// Online, available and not busy: may get new chats.
    public var takingChats: Bool { status == .online && available && busy != true }

    /// The queues the agent is logged in to.
    public var loggedInQueues: [String] { queues ?? departmentIds }
}

/// An agent logs in to or out of their queues (B5): `departmentIds` is the complete list of
/// queues they are logged in to afterwards (a subset of their departments). On
/// `presence.commands`, key: agent id.
public struct AgentQueuesSet: Codable, Sendable, Equatable {
    public var agentId: String
    public var departmentIds: [String]
    public init(agentId: String, departmentIds: [String]) {
        self.agentId = agentId
        self.departmentIds = departmentIds
    }
}

public struct DepartmentAvailabilityChanged: Codable, Sendable, Equatable {
    public var departmentId: String
    public var displayName: String
    /// True while at least one agent of the department is online and available.
    public var open: Bool
    public var availableAgents: Int
    /// The most concurrent chats an agent of this department gets automatically, when the
    /// agent has no maximum of their own; absent: the router's `ROUTER_MAX_CHATS_PER_AGENT`.
    public var maxChatsPerAgent: Int?
    public init(departmentId: String, displayName: String, open: Bool, availableAgents: Int, maxChatsPerAgent: Int? = nil) {
        self.departmentId = departmentId
        self.displayName = displayName
        self.open = open
        self.availableAgents = availableAgents
        self.maxChatsPerAgent = maxChatsPerAgent
    }
}

// MARK: archive.queries and gateway.replies

public struct TranscriptRequested: Codable, Sendable, Equatable {
    public var chatId: String
    /// The gateway instance waiting for the answer; the answer is keyed by it.
    public var replyTo: String
    public init(chatId: String, replyTo: String) {
        self.chatId = chatId
        self.replyTo = replyTo
    }
}

public struct Transcript: Codable, Sendable, Equatable {
    public struct Message: Codable, Sendable, Equatable {
        public var messageId: String
        public var sender: Participant
        public var text: String
        public var sentAt: Date
        public init(messageId: String, sender: Participant, text: String, sentAt: Date) {
            self.messageId = messageId
            self.sender = sender
            self.text = text
            self.sentAt = sentAt
        }
    }

    public var chatId: String
    public var departmentId: String
    public var visitor: Participant
    public var agents: [Participant]
    public var queuedAt: Date
    public var closedAt: Date?
    public var messages: [Message]
    public init(chatId: String, departmentId: String, visitor: Participant, agents: [Participant], queuedAt: Date, closedAt: Date?, messages: [Message]) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.visitor = visitor
        self.agents = agents
        self.queuedAt = queuedAt
        self.closedAt = closedAt
        self.messages = messages
    }
}

/// The archiver's answer to `transcript.requested` (causationId = the request's id).
public struct TranscriptAnswered: Codable, Sendable, Equatable {
    public var chatId: String
    public var replyTo: String
    /// Nil when the archive holds no such chat.
    public var transcript: Transcript?
    public init(chatId: String, replyTo: String, transcript: Transcript?) {
        self.chatId = chatId
        self.replyTo = replyTo
        self.transcript = transcript
    }
}

/// From a telephony system (C9): a phone call of an agent began or ended. On
/// `telephony.calls`, key: agent id.
public struct AgentCallChanged: Codable, Sendable, Equatable {
    public var agentId: String
    public var callId: String
    public init(agentId: String, callId: String) {
        self.agentId = agentId
        self.callId = callId
    }
}

/// From a telephony system: which agent of a department should take this call? On
/// `chat.commands`, key: department id; answered by `call.routed`.
public struct CallRoutingRequested: Codable, Sendable, Equatable {
    public var callId: String
    public var departmentId: String
    public init(callId: String, departmentId: String) {
        self.callId = callId
        self.departmentId = departmentId
    }
}

/// The router's answer: the agent for the call, or none (`agentId` absent). A call goes
/// to an agent with no active chat (rule `free_agent`) and to one who is handling chats
/// only if no agent is free (`busy_agent`, the least loaded); agents who do not take chats
/// or are on a call already are not candidates. On `telephony.calls`, key: call id.
public struct CallRouted: Codable, Sendable, Equatable {
    public var callId: String
    public var departmentId: String
    public var agentId: String?
    public var rule: String
    public var candidates: [ChatAssigned.Decision.Candidate]
    public init(callId: String, departmentId: String, agentId: String?, rule: String, candidates: [ChatAssigned.Decision.Candidate]) {
        self.callId = callId
        self.departmentId = departmentId
        self.agentId = agentId
        self.rule = rule
        self.candidates = candidates
    }
}

/// A participant started or stopped typing in a chat (A4). Ephemeral: on `chat.signals`,
/// key: chat id; gateways push it to the chat's other participants and store nothing.
public struct ChatTyping: Codable, Sendable, Equatable {
    public var chatId: String
    public var sender: Participant
    public var typing: Bool
    public init(chatId: String, sender: Participant, typing: Bool) {
        self.chatId = chatId
        self.sender = sender
        self.typing = typing
    }
}
