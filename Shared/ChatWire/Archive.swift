import Foundation

// The archive's questions and answers (E1-E5, A6, A7). The archiver is partitioned like
// `chat.conversations`, so questions about many chats go to every partition of
// `archive.queries` (written explicitly to partition n, answered by its owner for the
// chats of conversation partition n) and the gateway merges the answers.

/// One step of a chat's story, in the order it happened.
public struct ArchiveStoryEntry: Codable, Sendable, Equatable {
    /// The event type that made the step (`chat.queued`, `chat.assigned`, `chat.parked`...).
    public var type: String
    public var at: Date
    /// The agent the step was about, if any.
    public var agent: Participant?
    /// The department the chat was in (or went to, for a transfer).
    public var departmentId: String?
    /// A short reason or figure (`manual_pick`, `agent_offline`, `call`, seconds of wrap-up).
    public var detail: String?
    public init(type: String, at: Date, agent: Participant? = nil, departmentId: String? = nil, detail: String? = nil) {
        self.type = type
        self.at = at
        self.agent = agent
        self.departmentId = departmentId
        self.detail = detail
    }
}

/// One archived chat as lists and exports show it.
public struct ArchivedChat: Codable, Sendable, Equatable {
    public var chatId: String
    /// The department the chat is in now (after transfers).
    public var departmentId: String
    public var visitor: Participant
    /// The visitor's contact name ("Guest-N", E2).
    public var contact: String?
    /// An offline message's reply address (A2).
    public var contactEmail: String?
    public var agents: [Participant]
    public var queuedAt: Date
    public var firstAssignedAt: Date?
    public var closedAt: Date?
    public var closedBy: Participant?
    public var closedReason: String?
    public var messageCount: Int
    /// The visitor's pre-chat answers and category (A3).
    public var preChat: PreChatAnswers?
    /// Present when the question asked for it.
    public var story: [ArchiveStoryEntry]?
    /// Present when the question asked for it.
    public var messages: [Transcript.Message]?

    public init(chatId: String, departmentId: String, visitor: Participant, contact: String? = nil, contactEmail: String?, agents: [Participant], queuedAt: Date,
                firstAssignedAt: Date?, closedAt: Date?, closedBy: Participant?, closedReason: String?, messageCount: Int,
                preChat: PreChatAnswers? = nil, story: [ArchiveStoryEntry]? = nil, messages: [Transcript.Message]? = nil) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.visitor = visitor
        self.contactEmail = contactEmail
        self.agents = agents
        self.queuedAt = queuedAt
        self.firstAssignedAt = firstAssignedAt
        self.closedAt = closedAt
        self.closedBy = closedBy
        self.closedReason = closedReason
        self.messageCount = messageCount
        self.contact = contact
        self.preChat = preChat
        self.story = story
        self.messages = messages
    }

    /// The order lists and exports use: by `queuedAt`, then chat id.
    public var cursor: ArchiveCursor { ArchiveCursor(queuedAt: queuedAt, chatId: chatId) }
}

/// A position in the archive's order (`queuedAt`, then chat id).
public struct ArchiveCursor: Codable, Sendable, Equatable, Comparable {
    public var queuedAt: Date
    public var chatId: String
    public init(queuedAt: Date, chatId: String) {
        self.queuedAt = queuedAt
        self.chatId = chatId
    }

    public static func < (lhs: ArchiveCursor, rhs: ArchiveCursor) -> Bool {
        lhs.queuedAt != rhs.queuedAt ? lhs.queuedAt < rhs.queuedAt : lhs.chatId < rhs.chatId
    }
}

/// Which chats a question is about. Every condition given must hold.
public struct ArchiveFilter: Codable, Sendable, Equatable {
    /// Nil: every department (admins); staff ask for the departments they may see.
    public var departmentIds: [String]?
    /// Chats this agent took part in.
    public var agentId: String?
    /// Chats of this visitor (contact).
    public var visitorId: String?
    /// Just this chat.
    public var chatId: String?
    /// E3: part of the contact's name or of the chat id, case-insensitive (never content).
    public var name: String?
    /// Chats queued at or after / before these times.
    public var from: Date?
    public var to: Date?
    public var closedOnly: Bool

    public init(departmentIds: [String]? = nil, agentId: String? = nil, visitorId: String? = nil, chatId: String? = nil, name: String? = nil,
                from: Date? = nil, to: Date? = nil, closedOnly: Bool = false) {
        self.departmentIds = departmentIds
        self.agentId = agentId
        self.visitorId = visitorId
        self.chatId = chatId
        self.name = name
        self.from = from
        self.to = to
        self.closedOnly = closedOnly
    }
}

/// A page of chats of one partition: written to partition `partition` of `archive.queries`.
public struct ArchiveSearchRequested: Codable, Sendable, Equatable {
    public var replyTo: String
    public var partition: Int32
    public var filter: ArchiveFilter
    /// Continue after (or, newest first, before) this position.
    public var after: ArchiveCursor?
    public var newestFirst: Bool
    public var limit: Int
    /// Include each chat's story and messages (exports, details).
    public var includeTranscripts: Bool
    /// Also count every chat of the partition that matches (ignoring `after`).
    public var countTotal: Bool

    public init(replyTo: String, partition: Int32, filter: ArchiveFilter, after: ArchiveCursor?, newestFirst: Bool, limit: Int,
                includeTranscripts: Bool, countTotal: Bool = false) {
        self.countTotal = countTotal
        self.replyTo = replyTo
        self.partition = partition
        self.filter = filter
        self.after = after
        self.newestFirst = newestFirst
        self.limit = limit
        self.includeTranscripts = includeTranscripts
    }
}

/// The answer (causationId = the question's id), on `gateway.replies`.
public struct ArchiveSearchAnswered: Codable, Sendable, Equatable {
    public var replyTo: String
    public var partition: Int32
    public var chats: [ArchivedChat]
    /// Where the next page starts; nil when this partition has no more.
    public var next: ArchiveCursor?
    /// Every matching chat of the partition, when the question asked.
    public var total: Int?
    public init(replyTo: String, partition: Int32, chats: [ArchivedChat], next: ArchiveCursor?, total: Int? = nil) {
        self.total = total
        self.replyTo = replyTo
        self.partition = partition
        self.chats = chats
        self.next = next
    }
}

/// E4: delete one closed chat (keyed by its id), or every closed chat of some departments
/// on one partition (written to that partition).
public struct ArchiveDeleteRequested: Codable, Sendable, Equatable {
    public var replyTo: String
    public var chatId: String?
    /// For "delete all closed chats": the partition and the departments the caller may see.
    public var partition: Int32?
    public var departmentIds: [String]?
    public var requestedBy: Participant

    public init(replyTo: String, chatId: String?, partition: Int32?, departmentIds: [String]?, requestedBy: Participant) {
        self.replyTo = replyTo
        self.chatId = chatId
        self.partition = partition
        self.departmentIds = departmentIds
        self.requestedBy = requestedBy
    }
}

public struct ArchiveDeleteAnswered: Codable, Sendable, Equatable {
    public var replyTo: String
    public var deletedChatIds: [String]
    /// The one chat asked for is still open (it cannot be deleted).
    public var openChatIds: [String]
    public init(replyTo: String, deletedChatIds: [String], openChatIds: [String]) {
        self.replyTo = replyTo
        self.deletedChatIds = deletedChatIds
        self.openChatIds = openChatIds
    }
}

/// A chat is gone from the archive; every reader drops what it holds of it. Published by
/// the archiver on `chat.conversations` (key: chat id).
public struct ChatDeleted: Codable, Sendable, Equatable {
    public enum Reason: String, Codable, Sendable {
        case deleted, retention, erasure
    }

    public var chatId: String
    public var departmentId: String
    public var reason: Reason
    public var deletedBy: Participant?
    public init(chatId: String, departmentId: String, reason: Reason, deletedBy: Participant?) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.reason = reason
        self.deletedBy = deletedBy
    }
}

/// A6: forget a visitor. The gateway writes it to every partition of `chat.conversations`
/// and `chat.commands`; each service deletes what it holds about the visitor.
public struct VisitorErasureRequested: Codable, Sendable, Equatable {
    public var visitorId: String
    public init(visitorId: String) {
        self.visitorId = visitorId
    }
}

/// E2/A9: a new visitor token, on the one-partition compacted `visitors.contacts` (key:
/// visitor id). The record's offset numbers the contact: the visitor is "Guest-(offset+1)",
/// unique across every gateway without a coordinator. It carries the key that seals the
/// visitor's personal strings on every other topic (A6); erasure writes its tombstone.
public struct VisitorRegistered: Codable, Sendable, Equatable {
    public var visitorId: String
    /// Absent only in records written before keys existed.
    public var key: VisitorKey?
    public init(visitorId: String, key: VisitorKey?) {
        self.visitorId = visitorId
        self.key = key
    }

    /// The contact name for the record at `offset` of `visitors.contacts`.
    public static func contactName(offset: Int64) -> String { "Guest-\(offset + 1)" }
}

/// An admin's settings for a department (latest wins), on the compacted
/// `departments.settings` (key: department id).
public struct DepartmentSettingsUpdated: Codable, Sendable, Equatable {
    public var departmentId: String
    /// E4: closed chats older than this many days are deleted; nil keeps them.
    public var retentionDays: Int?
    /// A3: what visitors fill in before a chat starts; nil (records from before forms
    /// existed) means no form.
    public var preChatForm: PreChatForm?
    public var updatedBy: Participant

    public static let retentionDaysRange = 1...3650

    public init(departmentId: String, retentionDays: Int?, preChatForm: PreChatForm? = nil, updatedBy: Participant) {
        self.departmentId = departmentId
        self.retentionDays = retentionDays
        self.preChatForm = preChatForm
        self.updatedBy = updatedBy
    }
}

/// A7: send a chat's transcript (PDF) by e-mail; keyed by chat id on `archive.queries`.
public struct TranscriptEmailRequested: Codable, Sendable, Equatable {
    public var replyTo: String
    public var chatId: String
    public var email: String
    /// IANA zone the times are shown in.
    public var timeZone: String
    /// The department's name as the gateway shows it (the archiver does not follow names).
    public var departmentName: String
    public var requestedBy: Participant
    public init(replyTo: String, chatId: String, email: String, timeZone: String, departmentName: String, requestedBy: Participant) {
        self.replyTo = replyTo
        self.departmentName = departmentName
        self.chatId = chatId
        self.email = email
        self.timeZone = timeZone
        self.requestedBy = requestedBy
    }
}

/// E5: hand a chat with its transcript to the external ticket system (webhook); keyed by
/// chat id on `archive.queries`.
public struct TicketRequested: Codable, Sendable, Equatable {
    public var replyTo: String
    public var chatId: String
    public var note: String
    public var requestedBy: Participant
    public init(replyTo: String, chatId: String, note: String, requestedBy: Participant) {
        self.replyTo = replyTo
        self.chatId = chatId
        self.note = note
        self.requestedBy = requestedBy
    }
}

/// The archiver took a request that leaves the system later (mail, webhook): the delivery
/// id to ask about, or why it was refused.
public struct DeliveryQueued: Codable, Sendable, Equatable {
    public var replyTo: String
    public var chatId: String
    public var deliveryId: String?
    /// `not_found`, `not_configured`.
    public var refusal: String?
    public init(replyTo: String, chatId: String, deliveryId: String?, refusal: String?) {
        self.replyTo = replyTo
        self.chatId = chatId
        self.deliveryId = deliveryId
        self.refusal = refusal
    }
}
