import Foundation

/// A chat as the router sees it; carried whole in the router's changelog.
public struct RoutedChat: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// `parked`: still the agent's, not active. `transferred`: moved to another
        /// department (whose owner holds it now).
        /// `wrapUp`: closed for the visitor; its agent is doing the after-chat work.
        case queued, offered, assigned, parked, wrapUp = "wrapup", closed, transferred
    }

    public var id: String
    public var departmentId: String
    public var visitor: Participant
    public var status: Status
    public var agent: Participant?
    public var queuedAt: Date
    /// Active handling time before `activeSince` (kept across parks).
    public var handledSeconds: Double
    /// When the current active stretch began (assigned or unparked); nil while not active.
    public var activeSince: Date?
    /// Agents invited next to the owner (C6); they leave when the chat leaves its owner.
    public var invited: [Participant] = []
    /// While `offered`: to whom, and until when.
    public var offeredTo: Participant?
    public var offerExpiresAt: Date?
    /// Wrap-up time before `wrapUpSince`, and when the running stretch began (nil: paused).
    public var wrapUpSeconds: Double = 0
    public var wrapUpSince: Date?
    /// Agents who let an offer of this chat pass (declined or timed out); offered again only
    /// when nobody else can take it.
    public var passedBy: Set<String> = []
    /// The `chat.commands` partition its department's requests arrive on: the router
    /// instance that owns that partition owns the chat.
    public var partition: Int32 = 0
    /// Parked by the router because the agent's phone call began (C9): resumed when it ends.
    public var parkedForCall = false
    /// An offline message's e-mail address (A2).
    public var contactEmail: String?
    /// Since when the visitor has had the chat open nowhere (A10); nil while they have.
    public var visitorGoneSince: Date?

    public init(id: String, departmentId: String, visitor: Participant, status: Status, agent: Participant?, queuedAt: Date,
                handledSeconds: Double = 0, activeSince: Date? = nil, invited: [Participant] = []) {
        self.invited = invited
        self.id = id
        self.departmentId = departmentId
        self.visitor = visitor
        self.status = status
        self.agent = agent
        self.queuedAt = queuedAt
        self.handledSeconds = handledSeconds
        self.activeSince = activeSince
    }

    enum CodingKeys: String, CodingKey {
        case id, departmentId, visitor, status, agent, queuedAt, handledSeconds, activeSince, invited, offeredTo, offerExpiresAt
        case wrapUpSeconds, wrapUpSince, passedBy, partition, parkedForCall, contactEmail, visitorGoneSince
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try container.decode(String.self, forKey: .id), departmentId: try container.decode(String.self, forKey: .departmentId),
                  visitor: try container.decode(Participant.self, forKey: .visitor), status: try container.decode(Status.self, forKey: .status),
                  agent: try container.decodeIfPresent(Participant.self, forKey: .agent), queuedAt: try container.decode(Date.self, forKey: .queuedAt),
                  handledSeconds: try container.decodeIfPresent(Double.self, forKey: .handledSeconds) ?? 0,
                  activeSince: try container.decodeIfPresent(Date.self, forKey: .activeSince),
                  invited: try container.decodeIfPresent([Participant].self, forKey: .invited) ?? [])
        offeredTo = try container.decodeIfPresent(Participant.self, forKey: .offeredTo)
        offerExpiresAt = try container.decodeIfPresent(Date.self, forKey: .offerExpiresAt)
        wrapUpSeconds = try container.decodeIfPresent(Double.self, forKey: .wrapUpSeconds) ?? 0
        wrapUpSince = try container.decodeIfPresent(Date.self, forKey: .wrapUpSince)
        passedBy = Set(try container.decodeIfPresent([String].self, forKey: .passedBy) ?? [])
        partition = try container.decodeIfPresent(Int32.self, forKey: .partition) ?? 0
        parkedForCall = try container.decodeIfPresent(Bool.self, forKey: .parkedForCall) ?? false
        contactEmail = try container.decodeIfPresent(String.self, forKey: .contactEmail)
        visitorGoneSince = try container.decodeIfPresent(Date.self, forKey: .visitorGoneSince)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(departmentId, forKey: .departmentId)
        try container.encode(visitor, forKey: .visitor)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(agent, forKey: .agent)
        try container.encode(queuedAt, forKey: .queuedAt)
        try container.encode(handledSeconds, forKey: .handledSeconds)
        try container.encodeIfPresent(activeSince, forKey: .activeSince)
        try container.encode(invited, forKey: .invited)
        try container.encodeIfPresent(offeredTo, forKey: .offeredTo)
        try container.encodeIfPresent(offerExpiresAt, forKey: .offerExpiresAt)
        try container.encode(wrapUpSeconds, forKey: .wrapUpSeconds)
        try container.encodeIfPresent(wrapUpSince, forKey: .wrapUpSince)
        // Sorted, so the same state always encodes to the same bytes.
        try container.encode(passedBy.sorted(), forKey: .passedBy)
        try container.encode(partition, forKey: .partition)
        if parkedForCall { try container.encode(parkedForCall, forKey: .parkedForCall) }
        try container.encodeIfPresent(contactEmail, forKey: .contactEmail)
        try container.encodeIfPresent(visitorGoneSince, forKey: .visitorGoneSince)
    }

    /// Handling time up to `now`.
    public func handlingSeconds(at now: Date) -> Double {
        handledSeconds + (activeSince.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

}

/// The routing state of one `chat.commands` partition after a change, on `router.changelog`
/// (key `partition-<n>`, compacted: the latest snapshot of each partition is what counts).
/// A router instance that is assigned the partition restores from it and continues at
/// `nextCommandOffset`, so the state moves between instances without the old owner.
public struct RouterPartitionSnapshot: Codable, Sendable, Equatable {
    public var partition: Int32
    /// Raised each time an instance takes the partition over; with `sequence` it orders
    /// snapshots, so a restarted old owner recognises that its unsent work is stale.
    public var epoch: Int64
    public var sequence: Int64
    /// The next `chat.commands` offset of `partition` that this state has not seen.
    public var nextCommandOffset: Int64
    /// The partition's open chats (queued, offered, assigned, parked, in wrap-up).
    public var chats: [RoutedChat]
    /// What the change published. Written before those records; the next owner publishes
    /// them again (same event ids, so readers skip duplicates) in case the old owner died
    /// between the snapshot and its events.
    public var published: [PublishedRecord]
    /// Assignment proposals this change answered (accepted or not): their senders stop
    /// counting them as pending.
    public var answeredProposals: [String]
    /// Proposals in flight for agents whose home is this partition (see
    /// `ChatAssignmentProposed`), so the next owner keeps counting them.
    public var proposals: [AssignmentProposal]

    public init(partition: Int32, epoch: Int64, sequence: Int64, nextCommandOffset: Int64, chats: [RoutedChat], published: [PublishedRecord],
                answeredProposals: [String] = [], proposals: [AssignmentProposal] = []) {
        self.partition = partition
        self.epoch = epoch
        self.sequence = sequence
        self.nextCommandOffset = nextCommandOffset
        self.chats = chats
        self.published = published
        self.answeredProposals = answeredProposals
        self.proposals = proposals
    }

    enum CodingKeys: String, CodingKey {
        case partition, epoch, sequence, nextCommandOffset, chats, published, answeredProposals, proposals
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(partition: try container.decode(Int32.self, forKey: .partition), epoch: try container.decode(Int64.self, forKey: .epoch),
                  sequence: try container.decode(Int64.self, forKey: .sequence),
                  nextCommandOffset: try container.decode(Int64.self, forKey: .nextCommandOffset),
                  chats: try container.decode([RoutedChat].self, forKey: .chats),
                  published: try container.decodeIfPresent([PublishedRecord].self, forKey: .published) ?? [],
                  answeredProposals: try container.decodeIfPresent([String].self, forKey: .answeredProposals) ?? [],
                  proposals: try container.decodeIfPresent([AssignmentProposal].self, forKey: .proposals) ?? [])
    }

    /// A chat of another partition proposed to an agent, waiting for that partition's answer.
    public struct AssignmentProposal: Codable, Sendable, Equatable {
        /// The id of the `chat.assignment_proposed` event.
        public var id: String
        public var chatId: String
        public var agentId: String
        public var sentAt: Date

        public init(id: String, chatId: String, agentId: String, sentAt: Date) {
            self.id = id
            self.chatId = chatId
            self.agentId = agentId
            self.sentAt = sentAt
        }
    }

    public static func key(partition: Int32) -> String { "partition-\(partition)" }

    /// Whether this snapshot comes after `other` in the partition's history.
    public func isNewer(than other: (epoch: Int64, sequence: Int64)) -> Bool {
        (epoch, sequence) > other
    }

    public struct PublishedRecord: Codable, Sendable, Equatable {
        /// A topic name; kept as text so a reader tolerates topics it does not know.
        public var topic: String
        public var key: String
        public var envelope: Envelope

        public init(_ record: WireRecord) {
            topic = record.topic.name
            key = record.key
            envelope = record.envelope
        }

        public var record: WireRecord? {
            Topic(rawValue: topic).map { WireRecord(topic: $0, key: key, envelope: envelope) }
        }
    }
}

/// Automatic assignment across router instances: each agent's concurrent-chat maximum is
/// kept by one instance, the owner of the agent's home partition. For a waiting chat of a
/// partition another instance owns, it proposes the agent to that owner, which assigns (or
/// offers) the chat if it is still waiting and the agent still takes chats, and answers
/// through its changelog snapshot either way. On `chat.commands`, key: department id.
public struct ChatAssignmentProposed: Codable, Sendable, Equatable {
    public var chatId: String
    public var departmentId: String
    public var agent: Participant
    public var decision: ChatAssigned.Decision

    public init(chatId: String, departmentId: String, agent: Participant, decision: ChatAssigned.Decision) {
        self.chatId = chatId
        self.departmentId = departmentId
        self.agent = agent
        self.decision = decision
    }
}
