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

/// An agent as presence tracks them.
public struct AgentPresence: Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var departmentIds: [String]
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
    /// The agent's own maximum of concurrent chats, from the directory.
    public var maxChats: Int?

    public init(id: String, displayName: String, departmentIds: [String], maxChats: Int? = nil) {
        self.id = id
        self.displayName = displayName
        self.departmentIds = departmentIds
        self.maxChats = maxChats
    }

    var isTakingChats: Bool { status == .online && available && !busy }

    /// Takes chats of this department: taking chats and logged in to its queue.
    func isTakingChats(in departmentId: String) -> Bool {
        isTakingChats && departmentIds.contains(departmentId) && !loggedOutOf.contains(departmentId)
    }

    var loggedInQueues: [String] { departmentIds.filter { !loggedOutOf.contains($0) } }
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

    public init(agents: [AgentPresence], departments: [DepartmentEntry], gracePeriod: TimeInterval, connectionTimeout: TimeInterval = 30,
                ownedPartitions: Set<Int32>? = nil, commandPartitions: Int32 = Int32(Topic.presenceCommands.partitions), producer: String) {
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
        var actions = agents.values.filter(owns).sorted { $0.id < $1.id }.map { publishAgent($0, cause: nil, now: now) }
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
            agent.offlineAt = agent.status == .online ? now.addingTimeInterval(connectionTimeout) : nil
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
        guard var agent = agents[change.agentId], !owns(agent) else { return [] }
        agent.status = change.status
        agent.available = change.available
        agent.busy = change.busy ?? false
        agent.loggedOutOf = Set(agent.departmentIds).subtracting(change.loggedInQueues)
        agent.connections = [:]
        agent.offlineAt = nil
        agents[change.agentId] = agent
        return [.saveAgent(agent)] + departmentChanges(cause: nil, now: now)
    }

    public mutating func handle(_ envelope: Envelope, now: Date) -> Result<[PresenceAction], PresenceRefusal> {
        let graceEnds = now.addingTimeInterval(gracePeriod)
        switch envelope.event {
        case .agentConnected(let connected):
            return update(connected.agentId, cause: envelope, now: now) { agent in
                agent.connections[connected.connectionId] = AgentConnection(gatewayId: connected.gatewayId, seenAt: now)
                agent.offlineAt = nil
                if agent.status == .offline {
                    // Available by default after login; a second tab of an online agent
                    // leaves the chosen availability alone.
                    agent.status = .online
                    agent.available = true
                }
            }
        case .agentDisconnected(let disconnected):
            return update(disconnected.agentId, cause: envelope, now: now) { agent in
                agent.connections[disconnected.connectionId] = nil
                if agent.connections.isEmpty, agent.status == .online { agent.offlineAt = graceEnds }
            }
        case .agentAvailabilitySet(let change):
            guard agents[change.agentId]?.status == .online else {
                return .failure(PresenceRefusal(reason: "agent \(change.agentId) is not online"))
            }
            return update(change.agentId, cause: envelope, now: now) { agent in
                agent.available = change.available
                if let busy = change.busy { agent.busy = busy }
            }
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
                    if agent.connections.isEmpty, agent.status == .online { agent.offlineAt = graceEnds }
                }) { actions += more }
            }
            return .success(actions)
        default:
            return .success([])
        }
    }

    /// Ends connections not heard of within the connection timeout (their gateway died
    /// without a word) and takes offline every agent whose grace period ran out by `now`.
    public mutating func expireGracePeriods(now: Date) -> [PresenceAction] {
        var actions: [PresenceAction] = []
        let silentSince = now.addingTimeInterval(-connectionTimeout)
        for id in agents.keys.sorted() where owns(agents[id]!) && agents[id]!.connections.values.contains(where: { $0.seenAt < silentSince }) {
            let graceEnds = now.addingTimeInterval(gracePeriod)
            if case .success(let more) = update(id, cause: nil, now: now, change: { agent in
                agent.connections = agent.connections.filter { $0.value.seenAt >= silentSince }
                if agent.connections.isEmpty, agent.status == .online { agent.offlineAt = graceEnds }
            }) { actions += more }
        }
        for id in agents.keys.sorted() where owns(agents[id]!) {
            guard let deadline = agents[id]?.offlineAt, deadline <= now else { continue }
            if case .success(let more) = update(id, cause: nil, now: now, change: { agent in
                agent.offlineAt = nil
                agent.status = .offline
                agent.available = false
                agent.busy = false
            }) { actions += more }
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
        if agent.status != before.status || agent.available != before.available || agent.busy != before.busy || agent.loggedOutOf != before.loggedOutOf {
            actions.append(publishAgent(agent, cause: cause, now: now))
        }
        if before.isTakingChats != agent.isTakingChats || before.loggedOutOf != agent.loggedOutOf {
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

    private func publishDepartment(_ event: DepartmentAvailabilityChanged, cause: Envelope?, now: Date) -> PresenceAction {
        .publish(WireRecord(topic: .presenceDepartments, key: event.departmentId, envelope: envelope(.departmentAvailabilityChanged(event), cause: cause, now: now)))
    }
}

public struct PresenceRefusal: Error, Equatable, Sendable {
    public var reason: String
}
