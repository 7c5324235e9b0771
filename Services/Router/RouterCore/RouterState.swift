import ChatWire
import Foundation

extension RoutedChat {
    /// Ends the current active stretch.
    mutating func pauseHandling(at now: Date) {
        handledSeconds = handlingSeconds(at: now)
        activeSince = nil
    }
}

/// An agent as the router sees them, from presence.
public struct RoutingAgent: Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var departmentIds: [String]
    /// Online and available: may get chats automatically.
    public var takingChats: Bool
    /// Not offline (past the grace period or logged out). A new owner of a partition
    /// returns the chats of offline agents to the queue (see `RouterState.reconcile`).
    public var online: Bool
    /// The queues (departments) the agent is logged in to (B5): only those give them chats
    /// automatically, by transfer or by invitation.
    public var queues: Set<String>
    /// The agent's own maximum of concurrent chats (else the department's, else the policy's).
    public var maxChats: Int?

    public init(id: String, displayName: String, departmentIds: [String], takingChats: Bool, online: Bool = true,
                queues: Set<String>? = nil, maxChats: Int? = nil) {
        self.id = id
        self.displayName = displayName
        self.departmentIds = departmentIds
        self.takingChats = takingChats
        self.online = online
        self.queues = queues ?? Set(departmentIds)
        self.maxChats = maxChats
    }

    /// In the department and logged in to its queue.
    public func serves(_ departmentId: String) -> Bool {
        queues.contains(departmentId) && departmentIds.contains(departmentId)
    }
}

/// How chats reach agents.
public struct RoutingPolicy: Sendable, Equatable {
    public enum Assignment: String, Sendable {
        /// Chats wait until an agent picks one.
        case manual
        /// The router gives each waiting chat, oldest first, to the least-loaded agent of its
        /// department who is taking chats and below the maximum. Agents can still pick.
        case automatic
    }

    public var assignment: Assignment
    /// Most concurrent chats an automatic assignment gives an agent (manual picks may exceed it).
    public var maxChatsPerAgent: Int
    /// With automatic assignment: 0 assigns directly; more offers the chat to the agent, who
    /// has this many seconds to accept before it goes to the next one.
    public var offerTimeoutSeconds: Int
    /// A10: a chat whose visitor has had it open nowhere for this long ends; 0: never.
    public var visitorGoneSeconds: Int

    public init(assignment: Assignment = .manual, maxChatsPerAgent: Int = 3, offerTimeoutSeconds: Int = 0, visitorGoneSeconds: Int = 0) {
        self.assignment = assignment
        self.maxChatsPerAgent = maxChatsPerAgent
        self.offerTimeoutSeconds = offerTimeoutSeconds
        self.visitorGoneSeconds = visitorGoneSeconds
    }
}

/// What the adapter must do after the state machine decided.
public enum RouterAction: Sendable, Equatable {
    case saveChat(RoutedChat)
    case saveDepartment(id: String, open: Bool, maxChatsPerAgent: Int?)
    case saveAgent(RoutingAgent)
    case publish(WireRecord)
    /// A `chat.assignment_proposed` this change answered (see `RouterPartitionSnapshot`).
    case proposalAnswered(String)
    /// The agent's calls in progress changed (C9).
    case saveCalls(agentId: String, callIds: Set<String>)
}

/// The router's decisions as a value type: events in, actions out. It holds the open chats
/// and which departments are open; closed chats live only in the store, asked through
/// `isClosed`.
public struct RouterState: Sendable {
    public private(set) var openChats: [String: RoutedChat] = [:]
    public private(set) var openDepartments: Set<String> = []
    /// Departments' maximum of concurrent chats per agent, where they set one.
    public private(set) var departmentMaximums: [String: Int] = [:]
    public private(set) var agents: [String: RoutingAgent] = [:]
    public let policy: RoutingPolicy
    /// visitor id + department id → the visitor's open chat there.
    private var openChatByVisitor: [VisitorInDepartment: String] = [:]
    /// The `chat.commands` partitions whose chats this instance holds (empty: not tracked,
    /// as in a single instance before its first assignment and in unit tests).
    public private(set) var ownedPartitions: Set<Int32> = []
    /// The open chats of partitions other instances own, from their latest changelog
    /// snapshots: their waiting chats can go to agents homed here, and their agents' chats
    /// count toward the maximum.
    public private(set) var remoteChats: [Int32: [RoutedChat]] = [:]
    /// Chats of other partitions proposed to agents homed here, not answered yet.
    public private(set) var proposals: [String: RouterPartitionSnapshot.AssignmentProposal] = [:]
    /// Partitions of `chat.commands`: an agent's home is one of them.
    public let commandPartitions: Int32
    /// Agents on a phone call (C9), with their call ids: they take no chats meanwhile.
    public private(set) var calls: [String: Set<String>] = [:]

    private struct VisitorInDepartment: Hashable {
        var visitorId: String
        var departmentId: String
    }

    public init(openChats: [RoutedChat] = [], openDepartments: Set<String> = [], departmentMaximums: [String: Int] = [:], agents: [RoutingAgent] = [],
                remoteChats: [Int32: [RoutedChat]] = [:], commandPartitions: Int32 = Int32(Topic.chatCommands.partitions),
                calls: [String: Set<String>] = [:], policy: RoutingPolicy = RoutingPolicy()) {
        self.policy = policy
        self.departmentMaximums = departmentMaximums
        self.calls = calls
        self.remoteChats = remoteChats
        self.commandPartitions = max(1, commandPartitions)
        for agent in agents { self.agents[agent.id] = agent }
        for chat in openChats where chat.status != .closed {
            self.openChats[chat.id] = chat
            openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = chat.id
        }
        self.openDepartments = openDepartments
    }

    /// Decides what `envelope` means. `producer` names this instance in the events it
    /// writes; `now` stamps them. With automatic assignment, every event is also a chance to
    /// give waiting chats to agents who have room: a chat never waits while an eligible agent
    /// has capacity, whatever toggled in between.
    /// `partition` is the `chat.commands` partition a command arrived on (chats it creates
    /// belong to that partition); nil for presence events.
    public mutating func handle(_ envelope: Envelope, partition: Int32? = nil, producer: String, now: Date, isClosed: (String) -> Bool) -> [RouterAction] {
        let actions = decide(envelope, partition: partition ?? 0, producer: producer, now: now, isClosed: isClosed)
        guard policy.assignment == .automatic else { return actions }
        return actions + assignWaitingChats(cause: envelope, producer: producer, now: now)
    }

    /// Active chats per agent: assigned ones, and offers that hold a place for them.
    public func load(of agentId: String) -> Int {
        loads()[agentId, default: 0]
    }

    /// Every agent's load: the open chats here, those the owners of the other partitions
    /// last reported, and proposals still in flight.
    private func loads() -> [String: Int] {
        var loads = Self.loads(of: openChats.values)
        for (partition, chats) in remoteChats where !ownedPartitions.contains(partition) {
            loads.merge(Self.loads(of: chats), uniquingKeysWith: +)
        }
        for proposal in proposals.values { loads[proposal.agentId, default: 0] += 1 }
        return loads
    }

    /// The partition whose owner keeps this agent's maximum (the same on every instance).
    public func homePartition(of agentId: String) -> Int32 {
        Partitioning.partition(forKey: agentId, count: commandPartitions)
    }

    /// The most concurrent chats the agent gets automatically in a department's queue.
    public func maximum(for agent: RoutingAgent, in departmentId: String) -> Int {
        agent.maxChats ?? departmentMaximums[departmentId] ?? policy.maxChatsPerAgent
    }

    /// Takes chats (online, available, not busy) and is not on a phone call.
    func isFree(_ agent: RoutingAgent) -> Bool {
        agent.takingChats && calls[agent.id, default: []].isEmpty
    }

    /// Whether this instance decides automatic assignments for the agent. Without tracked
    /// partitions (a lone instance before its first assignment, unit tests) it does.
    func isHomedHere(_ agentId: String) -> Bool {
        ownedPartitions.isEmpty || ownedPartitions.contains(homePartition(of: agentId))
    }

    /// Proposals for agents homed in `partition`, for its snapshot.
    public func proposals(homedIn partition: Int32) -> [RouterPartitionSnapshot.AssignmentProposal] {
        proposals.values.filter { homePartition(of: $0.agentId) == partition }.sorted { ($0.sentAt, $0.id) < ($1.sentAt, $1.id) }
    }

    /// Active chats per agent among `chats`: assigned ones, and offers that hold a place.
    public static func loads(of chats: some Sequence<RoutedChat>) -> [String: Int] {
        var loads: [String: Int] = [:]
        for chat in chats {
            if chat.status == .assigned, let agent = chat.agent { loads[agent.id, default: 0] += 1 }
            if chat.status == .offered, let agent = chat.offeredTo { loads[agent.id, default: 0] += 1 }
        }
        return loads
    }

    // MARK: Partitions (scale-out)

    /// The open chats of one partition, in queue order: the body of its snapshot.
    /// A6: the visitor's chats of `partition` still held (ended, in their agent's wrap-up)
    /// keep their place but lose what identifies the visitor, so the partition's next
    /// snapshot (and the store) no longer names them.
    public mutating func forgetVisitor(_ visitorId: String, partition: Int32) -> [RouterAction] {
        var actions: [RouterAction] = []
        for (id, var chat) in openChats where chat.visitor.id == visitorId && chat.partition == partition {
            chat.visitor.displayName = Self.erasedVisitorName
            chat.contactEmail = nil
            openChats[id] = chat
            actions.append(.saveChat(chat))
        }
        return actions
    }

    public static let erasedVisitorName = "Erased visitor"

    public func chats(in partition: Int32) -> [RoutedChat] {
        openChats.values.filter { $0.partition == partition }.sorted { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) }
    }

    /// Takes over a partition with its chats (restored from the changelog or the store) and
    /// the proposals in flight for agents homed there.
    public mutating func adopt(partition: Int32, chats: [RoutedChat], proposals restored: [RouterPartitionSnapshot.AssignmentProposal] = []) {
        release(partitions: [partition])
        ownedPartitions.insert(partition)
        remoteChats[partition] = nil
        // Keep only proposals whose chat still waits: answers that came before this
        // takeover were not noticed here.
        let waiting = Set(remoteChats.values.joined().filter { $0.status == .queued }.map(\.id))
        for proposal in restored where waiting.contains(proposal.chatId) { proposals[proposal.id] = proposal }
        for chat in chats where chat.status != .closed && chat.status != .transferred {
            var chat = chat
            chat.partition = partition
            openChats[chat.id] = chat
            openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = chat.id
        }
    }

    /// Forgets the chats of partitions another instance owns from now on; nothing decided
    /// here touches them afterwards.
    public mutating func release(partitions: Set<Int32>) {
        ownedPartitions.subtract(partitions)
        // Until the next owner's first snapshot, what this instance knew stands in for it.
        for partition in partitions { remoteChats[partition] = chats(in: partition) }
        for chat in openChats.values where partitions.contains(chat.partition) {
            openChats[chat.id] = nil
            openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = nil
        }
    }

    /// Another owner's snapshot: its waiting chats may go to agents homed here, its
    /// assigned chats count toward their maximum, and it answers proposals sent from here.
    public mutating func noteRemote(_ snapshot: RouterPartitionSnapshot, producer: String, now: Date) -> [RouterAction] {
        guard !ownedPartitions.contains(snapshot.partition) else { return [] }
        remoteChats[snapshot.partition] = snapshot.chats
        for id in snapshot.answeredProposals { proposals[id] = nil }
        guard policy.assignment == .automatic else { return [] }
        return assignWaitingChats(cause: nil, producer: producer, now: now)
    }

    /// After a takeover: the old owner may have missed presence changes. Chats of agents
    /// who are offline go back to the queue, offers to agents who stopped taking chats are
    /// withdrawn, and waiting chats get agents (automatic assignment).
    public mutating func reconcile(producer: String, now: Date) -> [RouterAction] {
        var actions: [RouterAction] = []
        let chats = openChats.values.sorted { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) }
        for chat in chats where chat.status == .offered {
            if let agent = chat.offeredTo, agents[agent.id]?.takingChats == false {
                actions += withdrawOffer(chat, reason: .agentOffline, cause: nil, producer: producer, now: now)
            }
        }
        for chat in chats where chat.status == .assigned || chat.status == .parked {
            guard let agent = chat.agent, agents[agent.id]?.online == false else { continue }
            actions += requeue(chat, previousAgent: agent, cause: nil, producer: producer, now: now)
        }
        guard policy.assignment == .automatic else { return actions }
        return actions + assignWaitingChats(cause: nil, producer: producer, now: now)
    }

    private mutating func requeue(_ chat: RoutedChat, previousAgent: Participant, cause: Envelope?, producer: String, now: Date) -> [RouterAction] {
        var requeued = chat
        requeued.status = .queued
        requeued.agent = nil
        requeued.invited = []
        requeued.pauseHandling(at: now)
        openChats[chat.id] = requeued
        let event = ChatRequeued(chatId: chat.id, departmentId: chat.departmentId, previousAgent: previousAgent, reason: .agentOffline)
        return [.saveChat(requeued), .publish(WireRecord(topic: .chatConversations, key: chat.id,
                                                          envelope: envelope(.chatRequeued(event), cause: cause, producer: producer, now: now)))]
    }

    /// Ends a chat for the visitor: the agent who held it starts the after-chat work (a
    /// parked chat starts it paused); a chat nobody held is over.
    private mutating func close(_ open: RoutedChat, by requester: Participant, reason: ChatClosed.Reason?, cause: Envelope?, producer: String,
                                now: Date) -> [RouterAction] {
        var chat = open
        let wasParked = chat.status == .parked
        chat.pauseHandling(at: now)
        chat.visitorGoneSince = nil
        openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = nil
        func publish(_ event: WireEvent) -> RouterAction {
            .publish(WireRecord(topic: .chatConversations, key: chat.id, envelope: envelope(event, cause: cause, producer: producer, now: now)))
        }
        let closed = publish(.chatClosed(ChatClosed(chatId: chat.id, departmentId: chat.departmentId, closedBy: requester, reason: reason)))
        guard let agent = chat.agent, chat.status == .assigned || chat.status == .parked else {
            chat.status = .closed
            openChats[chat.id] = nil
            return [.saveChat(chat), closed]
        }
        chat.status = .wrapUp
        chat.invited = []
        chat.wrapUpSince = wasParked ? nil : now
        openChats[chat.id] = chat
        return [.saveChat(chat), closed, publish(.chatWrapUpStarted(ChatWrapUpChanged(chatId: chat.id, departmentId: chat.departmentId, agent: agent, wrapUpSeconds: 0)))]
    }

    /// A10: ends the chats whose visitor has been gone past the grace period, as if the
    /// visitor had ended them (the agent's wrap-up follows as usual).
    public mutating func closeAbandonedChats(now: Date, producer: String) -> [RouterAction] {
        guard policy.visitorGoneSeconds > 0 else { return [] }
        let deadline = now.addingTimeInterval(-TimeInterval(policy.visitorGoneSeconds))
        let abandoned = openChats.values.filter { chat in
            chat.status != .wrapUp && (chat.visitorGoneSince.map { $0 <= deadline } ?? false)
        }.sorted { $0.id < $1.id }
        return abandoned.flatMap { close($0, by: $0.visitor, reason: .visitorLeft, cause: nil, producer: producer, now: now) }
    }

    /// Withdraws offers whose time ran out and offers those chats to the next agents.
    public mutating func expireOffers(now: Date, producer: String) -> [RouterAction] {
        let expired = openChats.values.filter { $0.status == .offered && ($0.offerExpiresAt ?? now) <= now }.sorted { $0.id < $1.id }
        guard !expired.isEmpty else { return [] }
        var actions: [RouterAction] = []
        for chat in expired {
            actions += withdrawOffer(chat, reason: .timeout, cause: nil, producer: producer, now: now)
        }
        return actions + assignWaitingChats(cause: nil, producer: producer, now: now)
    }

    /// An event caused by `cause`, or a new correlation when a timer caused it.
    private func envelope(_ event: WireEvent, cause: Envelope?, producer: String, now: Date) -> Envelope {
        cause.map { .caused(by: $0, producer: producer, event: event, at: now) } ?? Envelope(occurredAt: now, producer: producer, event: event)
    }

    private mutating func withdrawOffer(_ chat: RoutedChat, reason: ChatOfferWithdrawn.Reason, cause: Envelope?, producer: String, now: Date) -> [RouterAction] {
        guard let agent = chat.offeredTo else { return [] }
        var waiting = chat
        waiting.status = .queued
        waiting.offeredTo = nil
        waiting.offerExpiresAt = nil
        waiting.passedBy.insert(agent.id)
        openChats[chat.id] = waiting
        let event = ChatOfferWithdrawn(chatId: chat.id, departmentId: chat.departmentId, agent: agent, reason: reason)
        return [.saveChat(waiting), .publish(WireRecord(topic: .chatConversations, key: chat.id,
                                                         envelope: envelope(.chatOfferWithdrawn(event), cause: cause, producer: producer, now: now)))]
    }

    /// Automatic assignment, oldest waiting chat first, each to the least-loaded agent
    /// homed here who takes chats and is below the maximum. Chats of this instance's
    /// partitions are assigned (or offered) at once; those of other partitions are proposed
    /// to their owner.
    private mutating func assignWaitingChats(cause: Envelope?, producer: String, now: Date) -> [RouterAction] {
        // An answer lost with a crashed owner must not hold the agent's place forever.
        proposals = proposals.filter { now.timeIntervalSince($0.value.sentAt) < Self.proposalLifetime }
        let proposed = Set(proposals.values.map(\.chatId))
        let remote = remoteChats.filter { !ownedPartitions.contains($0.key) }.values.joined()
        let waiting = (Array(openChats.values) + remote.filter { !proposed.contains($0.id) })
            .filter { $0.status == .queued }
            .sorted { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) }
        guard !waiting.isEmpty else { return [] }
        var actions: [RouterAction] = []
        var loads = loads()
        let available = agents.values.filter { isFree($0) && isHomedHere($0.id) }
        for chat in waiting {
            let candidates = available
                .filter { $0.serves(chat.departmentId) }
                .map { (agent: $0, load: loads[$0.id, default: 0]) }
                .sorted { ($0.load, $0.agent.id) < ($1.load, $1.agent.id) }
            let withRoom = candidates.filter { $0.load < maximum(for: $0.agent, in: chat.departmentId) }
            // Someone who let this chat pass gets it again only if nobody else can.
            guard let chosen = withRoom.first(where: { !chat.passedBy.contains($0.agent.id) }) ?? withRoom.first else { continue }
            let agent = Participant(role: .agent, id: chosen.agent.id, displayName: chosen.agent.displayName)
            let decision = ChatAssigned.Decision(rule: "least_loaded", maxChatsPerAgent: maximum(for: chosen.agent, in: chat.departmentId),
                                                 candidates: candidates.map { .init(agentId: $0.agent.id, activeChats: $0.load) })
            if openChats[chat.id] != nil {
                actions += assign(chat, to: agent, decision: decision, cause: cause, producer: producer, now: now)
            } else {
                let proposal = envelope(.chatAssignmentProposed(ChatAssignmentProposed(chatId: chat.id, departmentId: chat.departmentId, agent: agent, decision: decision)),
                                        cause: cause, producer: producer, now: now)
                proposals[proposal.id] = RouterPartitionSnapshot.AssignmentProposal(id: proposal.id, chatId: chat.id, agentId: agent.id, sentAt: now)
                actions.append(.publish(WireRecord(topic: .chatCommands, key: chat.departmentId, envelope: proposal)))
            }
            loads[agent.id, default: 0] += 1
        }
        return actions
    }

    /// How long a proposal counts toward its agent's load without an answer.
    static let proposalLifetime: TimeInterval = 30

    /// Assigns a waiting chat of this instance, or offers it when offers are on.
    private mutating func assign(_ chat: RoutedChat, to agent: Participant, decision: ChatAssigned.Decision, cause: Envelope?,
                                 producer: String, now: Date) -> [RouterAction] {
        var chat = chat
        let event: WireEvent
        if policy.offerTimeoutSeconds > 0 {
            chat.status = .offered
            chat.offeredTo = agent
            chat.offerExpiresAt = now.addingTimeInterval(TimeInterval(policy.offerTimeoutSeconds))
            event = .chatOffered(ChatOffered(chatId: chat.id, departmentId: chat.departmentId, agent: agent, expiresAt: chat.offerExpiresAt!, decision: decision))
        } else {
            chat.status = .assigned
            chat.agent = agent
            chat.activeSince = now
            event = .chatAssigned(ChatAssigned(chatId: chat.id, departmentId: chat.departmentId, agent: agent, reason: .automatic, decision: decision))
        }
        openChats[chat.id] = chat
        return [.saveChat(chat), .publish(WireRecord(topic: .chatConversations, key: chat.id, envelope: envelope(event, cause: cause, producer: producer, now: now)))]
    }

    // MARK: Phone calls (C9)

    /// The agent's phone call began: while on a call they get no chats, their active chats
    /// are parked (and marked, to come back after the call), offers to them withdrawn.
    private mutating func callStarted(_ call: AgentCallChanged, cause: Envelope, producer: String, now: Date) -> [RouterAction] {
        var callIds = calls[call.agentId, default: []]
        guard callIds.insert(call.callId).inserted else { return [] }
        let firstCall = calls[call.agentId, default: []].isEmpty
        calls[call.agentId] = callIds
        var actions: [RouterAction] = [.saveCalls(agentId: call.agentId, callIds: callIds)]
        guard firstCall else { return actions }
        let held = openChats.values.sorted { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) }
        for chat in held where chat.status == .offered && chat.offeredTo?.id == call.agentId {
            actions += withdrawOffer(chat, reason: .agentOffline, cause: cause, producer: producer, now: now)
        }
        for var chat in held where chat.status == .assigned && chat.agent?.id == call.agentId {
            chat.status = .parked
            chat.pauseHandling(at: now)
            chat.parkedForCall = true
            openChats[chat.id] = chat
            let event = ChatParkChanged(chatId: chat.id, departmentId: chat.departmentId, agent: chat.agent!, handlingSeconds: chat.handledSeconds, reason: "call")
            actions += [.saveChat(chat), .publish(WireRecord(topic: .chatConversations, key: chat.id,
                                                              envelope: envelope(.chatParked(event), cause: cause, producer: producer, now: now)))]
        }
        return actions
    }

    /// The agent's last call ended: the chats parked for it resume; one the visitor ended
    /// meanwhile resumes in wrap-up (its wrap-up clock starts).
    private mutating func callEnded(_ call: AgentCallChanged, cause: Envelope, producer: String, now: Date) -> [RouterAction] {
        var callIds = calls[call.agentId, default: []]
        guard callIds.remove(call.callId) != nil else { return [] }
        calls[call.agentId] = callIds.isEmpty ? nil : callIds
        var actions: [RouterAction] = [.saveCalls(agentId: call.agentId, callIds: callIds)]
        guard callIds.isEmpty else { return actions }
        for var chat in openChats.values.sorted(by: { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) })
        where chat.parkedForCall && chat.agent?.id == call.agentId {
            chat.parkedForCall = false
            if chat.status == .parked {
                chat.status = .assigned
                chat.activeSince = now
            } else if chat.status == .wrapUp, chat.wrapUpSince == nil {
                chat.wrapUpSince = now
            } else {
                openChats[chat.id] = chat
                actions.append(.saveChat(chat))
                continue
            }
            openChats[chat.id] = chat
            let event = ChatParkChanged(chatId: chat.id, departmentId: chat.departmentId, agent: chat.agent!, handlingSeconds: chat.handledSeconds, reason: "call")
            actions += [.saveChat(chat), .publish(WireRecord(topic: .chatConversations, key: chat.id,
                                                              envelope: envelope(.chatUnparked(event), cause: cause, producer: producer, now: now)))]
        }
        return actions
    }

    /// Which agent of the department should take a phone call: one with no active chat if
    /// there is one (then by id), else the least-loaded agent who takes chats; never one
    /// already on a call or in wrap-up.
    private func routeCall(_ request: CallRoutingRequested, cause: Envelope, producer: String, now: Date) -> RouterAction {
        let loads = loads()
        // An agent doing after-chat work gets no call until it is done (C8).
        let remote = remoteChats.filter { !ownedPartitions.contains($0.key) }.values.joined()
        let inWrapUp = Set((Array(openChats.values) + remote).filter { $0.status == .wrapUp }.compactMap(\.agent?.id))
        let candidates = agents.values.filter { isFree($0) && $0.serves(request.departmentId) && !inWrapUp.contains($0.id) }
            .map { (id: $0.id, load: loads[$0.id, default: 0]) }
            .sorted { ($0.load, $0.id) < ($1.load, $1.id) }
        let chosen = candidates.first
        let rule = chosen == nil ? "no_agent" : chosen!.load == 0 ? "free_agent" : "busy_agent"
        let routed = CallRouted(callId: request.callId, departmentId: request.departmentId, agentId: chosen?.id, rule: rule,
                                candidates: candidates.map { .init(agentId: $0.id, activeChats: $0.load) })
        return .publish(WireRecord(topic: .telephonyCalls, key: request.callId, envelope: envelope(.callRouted(routed), cause: cause, producer: producer, now: now)))
    }

    private mutating func decide(_ envelope: Envelope, partition: Int32, producer: String, now: Date, isClosed: (String) -> Bool) -> [RouterAction] {
        func publish(_ chatId: String, _ event: WireEvent) -> RouterAction {
            .publish(WireRecord(topic: .chatConversations, key: chatId, envelope: .caused(by: envelope, producer: producer, event: event, at: now)))
        }
        func reject(_ chatId: String, _ code: RequestRejected.Code, _ message: String, existing: String? = nil) -> [RouterAction] {
            rejection(chatId, code, message, existing)
        }
        func rejection(_ chatId: String, _ code: RequestRejected.Code, _ message: String, _ existing: String?) -> [RouterAction] {
            [publish(chatId, .requestRejected(RequestRejected(chatId: chatId, code: code, message: message, existingChatId: existing)))]
        }
        func rejectMissing(_ chatId: String) -> [RouterAction] {
            isClosed(chatId)
                ? reject(chatId, .chatClosed, "This chat has already ended.")
                : reject(chatId, .unknownChat, "There is no such chat.")
        }

        switch envelope.event {
        case .departmentAvailabilityChanged(let change):
            guard openDepartments.contains(change.departmentId) != change.open || departmentMaximums[change.departmentId] != change.maxChatsPerAgent else { return [] }
            if change.open { openDepartments.insert(change.departmentId) } else { openDepartments.remove(change.departmentId) }
            departmentMaximums[change.departmentId] = change.maxChatsPerAgent
            return [.saveDepartment(id: change.departmentId, open: change.open, maxChatsPerAgent: change.maxChatsPerAgent)]

        case .agentPresenceChanged(let presence):
            let agent = RoutingAgent(id: presence.agentId, displayName: presence.displayName, departmentIds: presence.departmentIds,
                                     takingChats: presence.takingChats, online: presence.status != .offline,
                                     queues: Set(presence.loggedInQueues), maxChats: presence.maxChats)
            var actions: [RouterAction] = agents[agent.id] == agent ? [] : [.saveAgent(agent)]
            agents[agent.id] = agent
            if !agent.takingChats {
                // Offers to an agent who stopped taking chats go to someone else.
                for chat in openChats.values.filter({ $0.status == .offered && $0.offeredTo?.id == agent.id }).sorted(by: { $0.id < $1.id }) {
                    actions += withdrawOffer(chat, reason: .agentOffline, cause: envelope, producer: producer, now: now)
                }
            }
            guard presence.status == .offline else { return actions }
            // Connection lost past the grace period (or logged out): the agent's chats go
            // back to their queues, in their original order.
            let held = openChats.values.filter { ($0.status == .assigned || $0.status == .parked) && $0.agent?.id == presence.agentId }
                .sorted { ($0.queuedAt, $0.id) < ($1.queuedAt, $1.id) }
            for chat in held {
                actions += requeue(chat, previousAgent: chat.agent!, cause: envelope, producer: producer, now: now)
            }
            return actions

        case .chatStartRequested(let request):
            let visitorKey = VisitorInDepartment(visitorId: request.visitor.id, departmentId: request.departmentId)
            if let existing = openChatByVisitor[visitorKey] {
                return reject(request.chatId, .alreadyOpen, "You already have an open chat with this department.", existing: existing)
            }
            if openChats[request.chatId] != nil || isClosed(request.chatId) {
                return reject(request.chatId, .alreadyOpen, "This chat was already requested.", existing: request.chatId)
            }
            // An offline message waits even in a closed department: that is its point (A2).
            guard openDepartments.contains(request.departmentId) || request.contactEmail != nil else {
                return reject(request.chatId, .departmentClosed, "No agent of this department is available right now.")
            }
            var chat = RoutedChat(id: request.chatId, departmentId: request.departmentId, visitor: request.visitor, status: .queued, agent: nil, queuedAt: now)
            chat.partition = partition
            chat.contactEmail = request.contactEmail
            openChats[chat.id] = chat
            openChatByVisitor[visitorKey] = chat.id
            return [.saveChat(chat), publish(chat.id, .chatQueued(ChatQueued(chatId: chat.id, departmentId: chat.departmentId, visitor: chat.visitor,
                                                                             queuedAt: now, contactEmail: chat.contactEmail,
                                                                             preChat: request.preChat, contact: request.contact)))]

        case .chatTakeRequested(let request):
            guard var chat = openChats[request.chatId], chat.departmentId == request.departmentId else {
                return rejectMissing(request.chatId)
            }
            guard chat.status != .wrapUp else { return reject(chat.id, .chatClosed, "This chat has already ended.") }
            let acceptsOffer = chat.status == .offered && chat.offeredTo?.id == request.agent.id
            guard chat.status == .queued || acceptsOffer else {
                let holder = chat.agent ?? chat.offeredTo
                let owner = holder?.id == request.agent.id ? "you" : holder?.displayName ?? "another agent"
                let verb = chat.status == .offered ? "offered to" : "taken by"
                return reject(chat.id, .alreadyTaken, "This chat was already \(verb) \(owner).")
            }
            chat.status = .assigned
            chat.agent = request.agent
            chat.offeredTo = nil
            chat.offerExpiresAt = nil
            chat.activeSince = now
            openChats[chat.id] = chat
            return [.saveChat(chat), publish(chat.id, .chatAssigned(ChatAssigned(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent,
                                                                                  reason: acceptsOffer ? .offerAccepted : .manualPick)))]

        case .chatCloseRequested(let request):
            guard let chat = openChats[request.chatId], chat.departmentId == request.departmentId else {
                return rejectMissing(request.chatId)
            }
            guard chat.status != .wrapUp else { return reject(chat.id, .chatClosed, "This chat has already ended.") }
            let requester = request.requestedBy
            let mayClose = (requester.role == .visitor && requester.id == chat.visitor.id)
                || (requester.role == .agent && requester.id == chat.agent?.id)
            guard mayClose else {
                return reject(chat.id, .notParticipant, "Only the visitor or the agent handling this chat can end it.")
            }
            return close(chat, by: requester, reason: nil, cause: envelope, producer: producer, now: now)

        case .chatVisitorPresence(let change):
            // Only the chat's own visitor counts; a closed or unknown chat has nothing to do.
            guard var chat = openChats[change.chatId], chat.departmentId == change.departmentId, chat.visitor.id == change.visitorId,
                  chat.status != .wrapUp
            else { return [] }
            let goneSince: Date? = change.present ? nil : (chat.visitorGoneSince ?? now)
            guard goneSince != chat.visitorGoneSince else { return [] }
            chat.visitorGoneSince = goneSince
            openChats[chat.id] = chat
            return [.saveChat(chat)]

        case .chatOwnerActionRequested(let request):
            guard var chat = openChats[request.chatId], chat.departmentId == request.departmentId else {
                return rejectMissing(request.chatId)
            }
            if request.action == .decline {
                guard chat.status == .offered, chat.offeredTo?.id == request.agent.id else {
                    return reject(chat.id, .invalidTransition, "This chat is not offered to you.")
                }
                return withdrawOffer(chat, reason: .declined, cause: envelope, producer: producer, now: now)
            }
            guard chat.agent?.id == request.agent.id, [.assigned, .parked, .wrapUp].contains(chat.status) else {
                return reject(chat.id, .notOwner, "Only the agent handling this chat can do that.")
            }
            if chat.status == .wrapUp {
                return wrapUpAction(chat, request: request, now: now, publish: publish, reject: rejection)
            }
            if request.action == .finishWrapUp {
                return reject(chat.id, .invalidTransition, "This chat has not ended yet.")
            }
            switch request.action {
            case .park:
                guard chat.status == .assigned else { return reject(chat.id, .invalidTransition, "This chat is already parked.") }
                chat.status = .parked
                chat.pauseHandling(at: now)
                openChats[chat.id] = chat
                return [.saveChat(chat), publish(chat.id, .chatParked(ChatParkChanged(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent, handlingSeconds: chat.handledSeconds)))]
            case .unpark:
                guard chat.status == .parked else { return reject(chat.id, .invalidTransition, "This chat is not parked.") }
                chat.status = .assigned
                chat.activeSince = now
                chat.parkedForCall = false
                openChats[chat.id] = chat
                return [.saveChat(chat), publish(chat.id, .chatUnparked(ChatParkChanged(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent, handlingSeconds: chat.handledSeconds)))]
            case .returnToQueue:
                chat.status = .queued
                chat.agent = nil
                chat.invited = []
                chat.pauseHandling(at: now)
                openChats[chat.id] = chat
                return [.saveChat(chat), publish(chat.id, .chatRequeued(ChatRequeued(chatId: chat.id, departmentId: chat.departmentId, previousAgent: request.agent, reason: .returnedByAgent)))]
            case .transfer:
                chat.invited = []
                return transfer(chat, request: request, now: now, publish: publish, reject: rejection)
            case .invite:
                guard let id = request.toAgentId, let target = agents[id], isFree(target), target.serves(chat.departmentId),
                      id != request.agent.id, !chat.invited.contains(where: { $0.id == id }) else {
                    return reject(chat.id, .targetUnavailable, "That agent is not available for this chat.")
                }
                let invitee = Participant(role: .agent, id: target.id, displayName: target.displayName)
                chat.invited.append(invitee)
                openChats[chat.id] = chat
                return [.saveChat(chat), publish(chat.id, .chatAgentInvited(ChatAgentInvited(chatId: chat.id, departmentId: chat.departmentId, agent: invitee, invitedBy: request.agent)))]
            default:
                return reject(chat.id, .unknownAction, "Unknown action '\(request.action.rawValue)'.")
            }

        case .agentCallStarted(let call):
            return callStarted(call, cause: envelope, producer: producer, now: now)

        case .agentCallEnded(let call):
            return callEnded(call, cause: envelope, producer: producer, now: now)

        case .callRoutingRequested(let request):
            return [routeCall(request, cause: envelope, producer: producer, now: now)]

        case .chatAssignmentProposed(let proposal):
            // Another instance keeps this agent's maximum and chose them for this chat; take
            // them if the chat still waits and they still take chats. Answered either way.
            proposals[envelope.id] = nil
            let answered: [RouterAction] = [.proposalAnswered(envelope.id)]
            guard let chat = openChats[proposal.chatId], chat.departmentId == proposal.departmentId, chat.status == .queued,
                  let agent = agents[proposal.agent.id], isFree(agent), agent.serves(chat.departmentId) else {
                return answered
            }
            return answered + assign(chat, to: proposal.agent, decision: proposal.decision, cause: envelope, producer: producer, now: now)

        case .chatTransferIn(let transfer):
            // A new owner may publish a hand-over again (same event, after a takeover).
            guard openChats[transfer.chatId] == nil else { return [] }
            // Admit a chat another department handed over; it keeps its original place.
            var chat = RoutedChat(id: transfer.chatId, departmentId: transfer.departmentId, visitor: transfer.visitor,
                                  status: .queued, agent: nil, queuedAt: transfer.queuedAt)
            chat.partition = partition
            openChats[chat.id] = chat
            openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = chat.id
            // Readers move the chat to this department only now that its owner holds it, so
            // no request can reach this queue before the chat is in it.
            return [.saveChat(chat), publish(chat.id, .chatQueued(ChatQueued(chatId: chat.id, departmentId: chat.departmentId, visitor: chat.visitor, queuedAt: chat.queuedAt)))]

        default:
            return []
        }
    }

    /// In wrap-up: park pauses its timer, unpark resumes it, finish ends it (and the chat).
    private mutating func wrapUpAction(_ chat: RoutedChat, request: ChatOwnerActionRequested, now: Date,
                                       publish: (String, WireEvent) -> RouterAction,
                                       reject: (String, RequestRejected.Code, String, String?) -> [RouterAction]) -> [RouterAction] {
        var chat = chat
        let elapsed = chat.wrapUpSince.map { max(0, now.timeIntervalSince($0)) } ?? 0
        switch request.action {
        case .park:
            guard chat.wrapUpSince != nil else { return reject(chat.id, .invalidTransition, "This chat is already parked.", nil) }
            chat.wrapUpSeconds += elapsed
            chat.wrapUpSince = nil
            openChats[chat.id] = chat
            return [.saveChat(chat), publish(chat.id, .chatParked(ChatParkChanged(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent, handlingSeconds: chat.handledSeconds)))]
        case .unpark:
            guard chat.wrapUpSince == nil else { return reject(chat.id, .invalidTransition, "This chat is not parked.", nil) }
            chat.wrapUpSince = now
            openChats[chat.id] = chat
            return [.saveChat(chat), publish(chat.id, .chatUnparked(ChatParkChanged(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent, handlingSeconds: chat.handledSeconds)))]
        case .finishWrapUp:
            chat.wrapUpSeconds += elapsed
            chat.wrapUpSince = nil
            chat.status = .closed
            openChats[chat.id] = nil
            return [.saveChat(chat), publish(chat.id, .chatWrapUpFinished(ChatWrapUpChanged(chatId: chat.id, departmentId: chat.departmentId, agent: request.agent, wrapUpSeconds: chat.wrapUpSeconds)))]
        default:
            return reject(chat.id, .chatClosed, "This chat has ended; only its wrap-up can be parked, resumed or finished.", nil)
        }
    }

    /// To an agent: only one who is online, available and in the chat's department. To a
    /// department: only one with an available agent; the chat leaves this queue and is
    /// admitted by the target department's owner through `chat.transfer_in`.
    private mutating func transfer(_ chat: RoutedChat, request: ChatOwnerActionRequested, now: Date,
                                   publish: (String, WireEvent) -> RouterAction,
                                   reject: (String, RequestRejected.Code, String, String?) -> [RouterAction]) -> [RouterAction] {
        var chat = chat
        if let toAgentId = request.toAgentId {
            guard let target = agents[toAgentId], isFree(target), target.serves(chat.departmentId), toAgentId != request.agent.id else {
                return reject(chat.id, .targetUnavailable, "That agent is not available for this department.", nil)
            }
            let toAgent = Participant(role: .agent, id: target.id, displayName: target.displayName)
            chat.pauseHandling(at: now)
            chat.status = .assigned
            chat.agent = toAgent
            chat.activeSince = now
            openChats[chat.id] = chat
            return [.saveChat(chat), publish(chat.id, .chatTransferred(ChatTransferred(
                chatId: chat.id, fromDepartmentId: chat.departmentId, toDepartmentId: chat.departmentId, previousAgent: request.agent, toAgent: toAgent)))]
        }
        guard let toDepartment = request.toDepartmentId, toDepartment != chat.departmentId else {
            return reject(chat.id, .invalidTransition, "A transfer needs another department or an agent.", nil)
        }
        guard openDepartments.contains(toDepartment) else {
            return reject(chat.id, .targetUnavailable, "No agent of that department is available.", nil)
        }
        chat.pauseHandling(at: now)
        chat.status = .transferred
        openChats[chat.id] = nil
        openChatByVisitor[VisitorInDepartment(visitorId: chat.visitor.id, departmentId: chat.departmentId)] = nil
        let handOver = ChatTransferIn(chatId: chat.id, departmentId: toDepartment, fromDepartmentId: chat.departmentId, visitor: chat.visitor, queuedAt: chat.queuedAt)
        guard case .publish(let moved) = publish(chat.id, .chatTransferred(ChatTransferred(
            chatId: chat.id, fromDepartmentId: chat.departmentId, toDepartmentId: toDepartment, previousAgent: request.agent, toAgent: nil))) else { return [] }
        let admit = WireRecord(topic: .chatCommands, key: toDepartment,
                               envelope: Envelope.caused(by: moved.envelope, producer: moved.envelope.producer, event: .chatTransferIn(handOver), at: now))
        return [.saveChat(chat), .publish(moved), .publish(admit)]
    }
}
