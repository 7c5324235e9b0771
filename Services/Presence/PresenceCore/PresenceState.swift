import ChatWire
import Foundation

/// One open console connection (browser tab, device) of an agent.
public struct AgentConnection: Codable, Sendable, Equatable {
    public var gatewayId: String
    /// The last `agent.connected` for it: the gateway repeats it while the socket is open,
    /// so a connection whose gateway went silent ends after the connection timeout.
    public var seenAt: Date

    public init(gatewayId: String, seenAt: Date) {
        self.gatewayId = gatewayId
        self.seenAt = seenAt
    }
}

/// An agent as presence tracks them: their account (the directory entry presence owns)
/// and their live state.
public struct AgentPresence: Sendable, Equatable {
    public var account: AccountUpdated
    /// Open connections, by connection id.
    public var connections: [String: AgentConnection] = [:]
    public var status: AgentPresenceChanged.Status = .offline
    public var available = false
    public var busy = false
    /// When the last connection closed: the agent goes offline at this time unless one
    /// comes back first.
    public var offlineAt: Date?
    /// Queues (departments) the agent logged out of (B5); kept across sessions.
    public var loggedOutOf: Set<String> = []
    /// The agent's last activity in the console; away after `awayAfterMinutes` without one.
    public var lastActiveAt: Date?

    public init(account: AccountUpdated) {
        self.account = account
    }

    /// An active agent account (configuration, tests).
    public init(id: String, displayName: String, departmentIds: [String], maxChats: Int? = nil, roles: [StaffRole] = [.agent],
                passwordHash: String? = nil, awayAfterMinutes: Double = 0) {
        account = AccountUpdated(agentId: id, displayName: displayName, status: .active, roles: Array(Set(roles)).sorted(), departmentIds: departmentIds, maxChats: maxChats,
                                 awayAfterMinutes: awayAfterMinutes, passwordHash: passwordHash, registrationId: "configured-" + id,
                                 registeredAt: Date(timeIntervalSince1970: 0), updatedBy: "configuration")
    }

    public var id: String { account.agentId }
    public var displayName: String { account.displayName }
    /// The departments the agent works in; none unless the account is active.
    public var departmentIds: [String] { account.status == .active ? account.departmentIds : [] }
    /// The agent's own maximum of concurrent chats, from the directory.
    public var maxChats: Int? { account.maxChats }

    var isTakingChats: Bool { status == .online && available && !busy && account.status == .active }

    /// Takes chats of this department: taking chats and logged in to its queue.
    func isTakingChats(in departmentId: String) -> Bool {
        isTakingChats && departmentIds.contains(departmentId) && !loggedOutOf.contains(departmentId)
    }

    var loggedInQueues: [String] { departmentIds.filter { !loggedOutOf.contains($0) } }

    /// Something the agent did: the idle clock starts over, and an away agent is back.
    mutating func noteActivity(at now: Date) {
        lastActiveAt = now
        if status == .away { status = .online }
    }

    /// Offline now, without a grace period (signed out, disabled, sent away).
    mutating func goOffline() {
        connections = [:]
        offlineAt = nil
        status = .offline
        available = false
        busy = false
    }

    /// Online and idle for the account's away time (0: never away).
    func isIdle(at now: Date) -> Bool {
        guard status == .online, account.awayAfterMinutes > 0, let lastActiveAt else { return false }
        return now.timeIntervalSince(lastActiveAt) >= account.awayAfterMinutes * 60
    }

    /// Whether the router and the people view hear of the agent at all: not while the
    /// registration waits for approval.
    var isListed: Bool { account.status != .pending }
}

public struct DepartmentEntry: Sendable, Equatable {
    public var id: String
    public var displayName: String
    /// Most concurrent chats for its agents without a maximum of their own.
    public var maxChatsPerAgent: Int?
    public init(id: String, displayName: String, maxChatsPerAgent: Int? = nil) {
        self.id = id
        self.displayName = displayName
        self.maxChatsPerAgent = maxChatsPerAgent
    }
}

public enum PresenceAction: Sendable, Equatable {
    case saveAgent(AgentPresence)
    case publish(WireRecord)
}

/// Who is connected and available, and which departments are therefore open.
/// Events in, actions out; time comes in as `now` so tests control it.
public struct PresenceState: Sendable {
    public private(set) var agents: [String: AgentPresence]
    public let departments: [DepartmentEntry]
    /// How long an agent with no connection stays online (reload, network blip).
    public let gracePeriod: TimeInterval
    /// How long a connection counts without hearing of it again (the gateway repeats
    /// `agent.connected` while a socket is open).
    public let connectionTimeout: TimeInterval
    /// The `presence.commands` partitions this instance owns; nil: all (one instance
    /// before it tracks ownership, and unit tests).
    public private(set) var ownedPartitions: Set<Int32>?
    public let commandPartitions: Int32
    /// What was last published per department, so only changes go out.
    private var published: [String: DepartmentAvailabilityChanged] = [:]
    private let producer: String
    /// The away time new accounts start with (B2; each account may change it).
    public let defaultAwayAfterMinutes: Double

    public init(agents: [AgentPresence], departments: [DepartmentEntry], gracePeriod: TimeInterval, connectionTimeout: TimeInterval = 30,
                ownedPartitions: Set<Int32>? = nil, commandPartitions: Int32 = Int32(Topic.presenceCommands.partitions), producer: String,
                defaultAwayAfterMinutes: Double = 5) {
        self.defaultAwayAfterMinutes = defaultAwayAfterMinutes
        self.agents = Dictionary(uniqueKeysWithValues: agents.map { ($0.id, $0) })
        self.departments = departments
        self.gracePeriod = gracePeriod
        self.connectionTimeout = connectionTimeout
        self.ownedPartitions = ownedPartitions
        self.commandPartitions = max(1, commandPartitions)
        self.producer = producer
        for department in departments { published[department.id] = availability(of: department) }
    }

    /// The agent's partition of `presence.commands` and `presence.agents`: their records
    /// are written there explicitly, so every service computes the same.
    public func partition(of agentId: String) -> Int32 {
        Partitioning.partition(forKey: agentId, count: commandPartitions)
    }

    /// Whether this instance decides for the agent.
    public func owns(_ agent: AgentPresence) -> Bool {
        ownedPartitions.map { $0.contains(partition(of: agent.id)) } ?? true
    }

    /// Whether this instance publishes the department's availability: the owner of the
    /// partition its id maps to.
    func isHomedHere(_ departmentId: String) -> Bool {
        ownedPartitions.map { $0.contains(Partitioning.partition(forKey: departmentId, count: commandPartitions)) } ?? true
    }

    /// Records that announce every agent and department this instance decides for, as they
    /// are now (at start-up and takeover, so a broker that lost its memory and every new
    /// consumer learns the whole picture).
    public mutating func announcement(now: Date) -> [PresenceAction] {
        var actions: [PresenceAction] = []
        for agent in agents.values.filter(owns).sorted(by: { $0.id < $1.id }) {
            actions.append(publishAccount(agent.account, cause: nil, now: now))
            if agent.isListed { actions.append(publishAgent(agent, cause: nil, now: now)) }
        }
        for department in departments where isHomedHere(department.id) {
            let current = availability(of: department)
            published[department.id] = current
            actions.append(publishDepartment(current, cause: nil, now: now))
        }
        return actions
    }

    // MARK: Ownership (scale-out)

    /// Takes over partitions: their agents' last published state (from the view) becomes
    /// this instance's to decide. Their connections are not known here; an online agent's
    /// gateways repeat them within the connection timeout, or the agent goes offline.
    public mutating func adopt(partitions: Set<Int32>, now: Date) -> [PresenceAction] {
        ownedPartitions = (ownedPartitions ?? []).union(partitions)
        var actions: [PresenceAction] = []
        for id in agents.keys.sorted() {
            guard var agent = agents[id], partitions.contains(partition(of: id)) else { continue }
            agent.connections = [:]
            agent.offlineAt = agent.status != .offline ? now.addingTimeInterval(connectionTimeout) : nil
            agent.lastActiveAt = agent.lastActiveAt ?? now
            agents[id] = agent
            actions.append(.saveAgent(agent))
        }
        return actions + announcement(now: now)
    }

    /// Gives partitions up: their agents are another instance's from now on.
    public mutating func release(partitions: Set<Int32>) {
        ownedPartitions = (ownedPartitions ?? []).subtracting(partitions)
    }

    /// An agent's state as their owner published it (`presence.agents`); for agents this
    /// instance does not own it is the truth, and counts for the departments homed here.
    public mutating func noteRemote(_ change: AgentPresenceChanged, now: Date) -> [PresenceAction] {
        // An agent whose account this instance has not read yet: known by its presence
        // until `accounts.directory` brings the account.
        var agent = agents[change.agentId]
            ?? AgentPresence(id: change.agentId, displayName: change.displayName, departmentIds: change.departmentIds, maxChats: change.maxChats)
        guard !owns(agent) else { return [] }
        agent.status = change.status
        agent.available = change.available
        agent.busy = change.busy ?? false
        agent.loggedOutOf = Set(agent.departmentIds).subtracting(change.loggedInQueues)
        agent.connections = [:]
        agent.offlineAt = nil
        agents[change.agentId] = agent
        return [.saveAgent(agent)] + departmentChanges(cause: nil, now: now)
    }

    /// An account as its owner published it (`accounts.directory`).
    public mutating func noteRemoteAccount(_ account: AccountUpdated, now: Date) -> [PresenceAction] {
        var agent = agents[account.agentId] ?? AgentPresence(account: account)
        guard !owns(agent) else { return [] }
        agent.account = account
        if agents[account.agentId] == agent { return [] }
        agents[account.agentId] = agent
        return [.saveAgent(agent)] + departmentChanges(cause: nil, now: now)
    }

    public mutating func handle(_ envelope: Envelope, now: Date) -> Result<[PresenceAction], PresenceRefusal> {
        let graceEnds = now.addingTimeInterval(gracePeriod)
        switch envelope.event {
        case .agentConnected(let connected):
            guard agents[connected.agentId].map({ $0.account.status == .active }) != false else {
                return .failure(PresenceRefusal(reason: "the account of agent \(connected.agentId) is not active"))
            }
            return update(connected.agentId, cause: envelope, now: now) { agent in
                let isNew = agent.connections[connected.connectionId] == nil
                agent.connections[connected.connectionId] = AgentConnection(gatewayId: connected.gatewayId, seenAt: now)
                agent.offlineAt = nil
                if agent.status == .offline {
                    // Available by default after login; a second tab of an online agent
                    // leaves the chosen availability alone.
                    agent.status = .online
                    agent.available = true
                }
                // Opening the console is activity; the heartbeat that repeats it is not.
                if isNew { agent.noteActivity(at: now) }
            }
        case .agentDisconnected(let disconnected):
            return update(disconnected.agentId, cause: envelope, now: now) { agent in
                agent.connections[disconnected.connectionId] = nil
                guard agent.connections.isEmpty, agent.status != .offline else { return }
                if disconnected.signedOut == true {
                    agent.goOffline()
                } else {
                    agent.offlineAt = graceEnds
                }
            }
        case .agentAvailabilitySet(let change):
            guard let status = agents[change.agentId]?.status, status != .offline else {
                return .failure(PresenceRefusal(reason: "agent \(change.agentId) is not online"))
            }
            return update(change.agentId, cause: envelope, now: now) { agent in
                agent.available = change.available
                if let busy = change.busy { agent.busy = busy }
                agent.noteActivity(at: now)
            }
        case .accountPasswordSet(let change):
            guard agents[change.agentId]?.account.status == .active else {
                return .failure(PresenceRefusal(reason: "the account of \(change.agentId) is not active"))
            }
            return update(change.agentId, cause: envelope, now: now) { agent in
                agent.account.passwordHash = change.passwordHash
                // Every earlier session ends; the owner's new one is issued after this record.
                agent.account.sessionsNotBefore = envelope.occurredAt
                agent.account.updatedBy = change.agentId
            }
        case .agentActive(let active):
            return update(active.agentId, cause: envelope, now: now) { $0.noteActivity(at: now) }
        case .agentQueuesSet(let change):
            guard let agent = agents[change.agentId] else { return .failure(PresenceRefusal(reason: "unknown agent \(change.agentId)")) }
            let unknown = Set(change.departmentIds).subtracting(agent.departmentIds)
            guard unknown.isEmpty else {
                return .failure(PresenceRefusal(reason: "agent \(change.agentId) is not in \(unknown.sorted().joined(separator: ", "))"))
            }
            return update(change.agentId, cause: envelope, now: now) { agent in
                agent.loggedOutOf = Set(agent.departmentIds).subtracting(change.departmentIds)
            }
        case .gatewayStarted(let started):
            // That gateway's earlier connections are gone; each agent left without one
            // gets the grace period to reconnect.
            var actions: [PresenceAction] = []
            for id in agents.keys.sorted() where owns(agents[id]!) && agents[id]!.connections.values.contains(where: { $0.gatewayId == started.gatewayId }) {
                if case .success(let more) = update(id, cause: envelope, now: now, change: { agent in
                    agent.connections = agent.connections.filter { $0.value.gatewayId != started.gatewayId }
                    if agent.connections.isEmpty, agent.status != .offline { agent.offlineAt = graceEnds }
                }) { actions += more }
            }
            return .success(actions)
        case .accountRegistrationRequested(let registration):
            return register(registration, cause: envelope, now: now)
        case .accountUpdateRequested(let change):
            return updateAccount(change, cause: envelope, now: now)
        case .sessionRevokeRequested(let revocation):
            guard agents[revocation.agentId] != nil else { return .failure(PresenceRefusal(reason: "unknown agent \(revocation.agentId)")) }
            return update(revocation.agentId, cause: envelope, now: now) { agent in
                if revocation.allSessions == true {
                    agent.account.sessionsNotBefore = now
                } else if let sessionId = revocation.sessionId, !agent.account.revokedSessions.contains(where: { $0.sessionId == sessionId }) {
                    agent.account.revokedSessions.append(RevokedSession(sessionId: sessionId, expiresAt: revocation.expiresAt ?? now.addingTimeInterval(86_400)))
                }
                // Sessions past their expiry need no entry any more.
                agent.account.revokedSessions.removeAll { $0.expiresAt < now }
                agent.account.updatedBy = revocation.actorId
                if revocation.endPresence == true { agent.goOffline() }
            }
        default:
            return .success([])
        }
    }

    // MARK: Accounts (B1)

    /// Creates the account unless its login name is taken (by anything but a rejected
    /// registration). A repeated record changes nothing.
    private mutating func register(_ registration: AccountRegistrationRequested, cause: Envelope, now: Date) -> Result<[PresenceAction], PresenceRefusal> {
        if let existing = agents[registration.agentId], existing.account.status != .rejected {
            // Taken (or this very registration, replayed): the registrant's gateway sees
            // another registration id in the directory and says so.
            return .success([])
        }
        guard LoginName.isValid(registration.agentId) else { return .failure(PresenceRefusal(reason: "'\(registration.agentId)' is not a valid login name")) }
        if let refusal = checkDepartments(registration.departmentIds ?? []) { return .failure(refusal) }
        let approved = registration.approved == true
        let account = AccountUpdated(agentId: registration.agentId, displayName: registration.displayName, status: approved ? .active : .pending,
                                     roles: approved ? (registration.roles ?? [.agent]).sorted() : [.agent], departmentIds: approved ? registration.departmentIds ?? [] : [],
                                     awayAfterMinutes: defaultAwayAfterMinutes, passwordHash: registration.passwordHash, registrationId: registration.registrationId,
                                     registeredAt: now, updatedBy: approved ? "operator" : "self")
        var agent = AgentPresence(account: account)
        agent.loggedOutOf = agents[registration.agentId]?.loggedOutOf ?? []
        agents[registration.agentId] = agent
        var actions: [PresenceAction] = [.saveAgent(agent), publishAccount(account, cause: cause, now: now)]
        if agent.isListed { actions.append(publishAgent(agent, cause: cause, now: now)) }
        return .success(actions)
    }

    /// An admin's change. Status moves: pending → active or rejected, active ⇄ disabled.
    private mutating func updateAccount(_ change: AccountUpdateRequested, cause: Envelope, now: Date) -> Result<[PresenceAction], PresenceRefusal> {
        guard let current = agents[change.agentId] else { return .failure(PresenceRefusal(reason: "unknown agent \(change.agentId)")) }
        if let status = change.status, !current.account.status.mayBecome(status) {
            return .failure(PresenceRefusal(reason: "account \(change.agentId) cannot go from \(current.account.status.rawValue) to \(status.rawValue)"))
        }
        if let roles = change.roles, roles.isEmpty { return .failure(PresenceRefusal(reason: "an account needs at least one role")) }
        if let refusal = checkDepartments(change.departmentIds ?? []) { return .failure(refusal) }
        if let maximum = change.maxChats, !AccountLimits.maxChats.contains(maximum) { return .failure(PresenceRefusal(reason: "maxChats must be 0 (none) to 100")) }
        if let minutes = change.awayAfterMinutes, !AccountLimits.awayAfterMinutes.contains(minutes) {
            return .failure(PresenceRefusal(reason: "awayAfterMinutes must be 0 (never) to 1440"))
        }
        return update(change.agentId, cause: cause, now: now) { agent in
            let before = agent.account.status
            agent.account = agent.account.applying(change)
            if agent.account.status != before, agent.account.status != .active {
                // Off the system at once: open sessions end, chats go back to the queue.
                agent.account.sessionsNotBefore = now
                agent.goOffline()
            }
            if let departments = change.departmentIds { agent.loggedOutOf.formIntersection(departments) }
            agent.account.updatedBy = change.actorId
        }
    }

    private func checkDepartments(_ ids: [String]) -> PresenceRefusal? {
        let unknown = Set(ids).subtracting(departments.map(\.id))
        return unknown.isEmpty ? nil : PresenceRefusal(reason: "there is no department \(unknown.sorted().joined(separator: ", "))")
    }

    /// Ends connections not heard of within the connection timeout (their gateway died
    /// without a word), takes offline every agent whose grace period ran out by `now`, and
    /// shows idle agents as away.
    public mutating func expireGracePeriods(now: Date) -> [PresenceAction] {
        var actions: [PresenceAction] = []
        let silentSince = now.addingTimeInterval(-connectionTimeout)
        for id in agents.keys.sorted() where owns(agents[id]!) && agents[id]!.connections.values.contains(where: { $0.seenAt < silentSince }) {
            let graceEnds = now.addingTimeInterval(gracePeriod)
            if case .success(let more) = update(id, cause: nil, now: now, change: { agent in
                agent.connections = agent.connections.filter { $0.value.seenAt >= silentSince }
                if agent.connections.isEmpty, agent.status != .offline { agent.offlineAt = graceEnds }
            }) { actions += more }
        }
        for id in agents.keys.sorted() where owns(agents[id]!) {
            guard let deadline = agents[id]?.offlineAt, deadline <= now else { continue }
            if case .success(let more) = update(id, cause: nil, now: now, change: { $0.goOffline() }) { actions += more }
        }
        // B2: idle agents show as away and get no new chats until they do something.
        for id in agents.keys.sorted() where owns(agents[id]!) && agents[id]!.isIdle(at: now) {
            if case .success(let more) = update(id, cause: nil, now: now, change: { $0.status = .away }) { actions += more }
        }
        return actions
    }

    public func isOpen(_ departmentId: String) -> Bool {
        agents.values.contains { $0.isTakingChats(in: departmentId) }
    }

    private mutating func update(_ agentId: String, cause: Envelope?, now: Date, change: (inout AgentPresence) -> Void) -> Result<[PresenceAction], PresenceRefusal> {
        guard var agent = agents[agentId] else {
            return .failure(PresenceRefusal(reason: "unknown agent \(agentId)"))
        }
        let before = agent
        change(&agent)
        guard agent != before else { return .success([]) }
        agents[agentId] = agent
        var actions: [PresenceAction] = [.saveAgent(agent)]
        if agent.account != before.account {
            actions.append(publishAccount(agent.account, cause: cause, now: now))
        }
        if agent.isListed, agent.status != before.status || agent.available != before.available || agent.busy != before.busy
            || agent.loggedOutOf != before.loggedOutOf || agent.account.status != before.account.status || agent.departmentIds != before.departmentIds
            || agent.displayName != before.displayName || agent.maxChats != before.maxChats {
            actions.append(publishAgent(agent, cause: cause, now: now))
        }
        if before.isTakingChats != agent.isTakingChats || before.loggedOutOf != agent.loggedOutOf || before.departmentIds != agent.departmentIds {
            actions += departmentChanges(cause: cause, now: now)
        }
        return .success(actions)
    }

    /// A department is open while one of its agents takes chats.
    private func availability(of department: DepartmentEntry) -> DepartmentAvailabilityChanged {
        let available = agents.values.filter { $0.isTakingChats(in: department.id) }.count
        return DepartmentAvailabilityChanged(departmentId: department.id, displayName: department.displayName, open: available > 0,
                                             availableAgents: available, maxChatsPerAgent: department.maxChatsPerAgent)
    }

    /// Publishes the departments homed here whose availability differs from what was
    /// last published.
    private mutating func departmentChanges(cause: Envelope?, now: Date) -> [PresenceAction] {
        var actions: [PresenceAction] = []
        for department in departments where isHomedHere(department.id) {
            let current = availability(of: department)
            guard published[department.id] != current else { continue }
            published[department.id] = current
            actions.append(publishDepartment(current, cause: cause, now: now))
        }
        return actions
    }

    private func envelope(_ event: WireEvent, cause: Envelope?, now: Date) -> Envelope {
        cause.map { Envelope.caused(by: $0, producer: producer, event: event, at: now) } ?? Envelope(occurredAt: now, producer: producer, event: event)
    }

    private func publishAgent(_ agent: AgentPresence, cause: Envelope?, now: Date) -> PresenceAction {
        let event = AgentPresenceChanged(agentId: agent.id, displayName: agent.displayName, departmentIds: agent.departmentIds,
                                         status: agent.status, available: agent.available, busy: agent.busy,
                                         queues: agent.loggedInQueues, maxChats: agent.maxChats)
        return .publish(WireRecord(topic: .presenceAgents, key: agent.id, envelope: envelope(.agentPresenceChanged(event), cause: cause, now: now),
                                   partition: partition(of: agent.id)))
    }

    private func publishAccount(_ account: AccountUpdated, cause: Envelope?, now: Date) -> PresenceAction {
        .publish(WireRecord(topic: .accountsDirectory, key: account.agentId, envelope: envelope(.accountUpdated(account), cause: cause, now: now),
                            partition: partition(of: account.agentId)))
    }

    private func publishDepartment(_ event: DepartmentAvailabilityChanged, cause: Envelope?, now: Date) -> PresenceAction {
        .publish(WireRecord(topic: .presenceDepartments, key: event.departmentId, envelope: envelope(.departmentAvailabilityChanged(event), cause: cause, now: now)))
    }
}

public struct PresenceRefusal: Error, Equatable, Sendable {
    public var reason: String
}
