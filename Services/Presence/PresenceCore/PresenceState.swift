import ChatWire
import Foundation

/// An agent as presence tracks them.
public struct AgentPresence: Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var departmentIds: [String]
    /// Open connections (browser tabs, devices), by connection id → gateway id.
    public var connections: [String: String] = [:]
    public var status: AgentPresenceChanged.Status = .offline
    public var available = false
    public var busy = false
    /// When the last connection closed: the agent goes offline at this time unless one
    /// comes back first.
    public var offlineAt: Date?

    public init(id: String, displayName: String, departmentIds: [String]) {
        self.id = id
        self.displayName = displayName
        self.departmentIds = departmentIds
    }

    var isTakingChats: Bool { status == .online && available && !busy }
}

public struct DepartmentEntry: Sendable, Equatable {
    public var id: String
    public var displayName: String
    public init(id: String, displayName: String) {
        self.id = id
        self.displayName = displayName
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
    private let producer: String

    public init(agents: [AgentPresence], departments: [DepartmentEntry], gracePeriod: TimeInterval, producer: String) {
        self.agents = Dictionary(uniqueKeysWithValues: agents.map { ($0.id, $0) })
        self.departments = departments
        self.gracePeriod = gracePeriod
        self.producer = producer
    }

    /// Records that announce every agent and department as they are now (at start-up, so
    /// a broker that lost its memory and every new consumer learns the whole picture).
    public func announcement(now: Date) -> [PresenceAction] {
        agents.values.sorted { $0.id < $1.id }.map { publishAgent($0, cause: nil, now: now) }
            + departments.map { publishDepartment($0, cause: nil, now: now) }
    }

    public mutating func handle(_ envelope: Envelope, now: Date) -> Result<[PresenceAction], PresenceRefusal> {
        let graceEnds = now.addingTimeInterval(gracePeriod)
        switch envelope.event {
        case .agentConnected(let connected):
            return update(connected.agentId, cause: envelope, now: now) { agent in
                agent.connections[connected.connectionId] = connected.gatewayId
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
        case .gatewayStarted(let started):
            // That gateway's earlier connections are gone; each agent left without one
            // gets the grace period to reconnect.
            var actions: [PresenceAction] = []
            for id in agents.keys.sorted() where agents[id]!.connections.values.contains(started.gatewayId) {
                if case .success(let more) = update(id, cause: envelope, now: now, change: { agent in
                    agent.connections = agent.connections.filter { $0.value != started.gatewayId }
                    if agent.connections.isEmpty, agent.status == .online { agent.offlineAt = graceEnds }
                }) { actions += more }
            }
            return .success(actions)
        default:
            return .success([])
        }
    }

    /// Takes offline every agent whose grace period ran out by `now`.
    public mutating func expireGracePeriods(now: Date) -> [PresenceAction] {
        var actions: [PresenceAction] = []
        for id in agents.keys.sorted() {
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
        agents.values.contains { $0.isTakingChats && $0.departmentIds.contains(departmentId) }
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
        if agent.status != before.status || agent.available != before.available || agent.busy != before.busy {
            actions.append(publishAgent(agent, cause: cause, now: now))
        }
        if before.isTakingChats != agent.isTakingChats {
            // Each of the agent's departments gained or lost one available agent.
            for department in departments where agent.departmentIds.contains(department.id) {
                actions.append(publishDepartment(department, cause: cause, now: now))
            }
        }
        return .success(actions)
    }

    private func envelope(_ event: WireEvent, cause: Envelope?, now: Date) -> Envelope {
        cause.map { Envelope.caused(by: $0, producer: producer, event: event, at: now) } ?? Envelope(occurredAt: now, producer: producer, event: event)
    }

    private func publishAgent(_ agent: AgentPresence, cause: Envelope?, now: Date) -> PresenceAction {
        let event = AgentPresenceChanged(agentId: agent.id, displayName: agent.displayName, departmentIds: agent.departmentIds,
                                         status: agent.status, available: agent.available, busy: agent.busy)
        return .publish(WireRecord(topic: .presenceAgents, key: agent.id, envelope: envelope(.agentPresenceChanged(event), cause: cause, now: now)))
    }

    private func publishDepartment(_ department: DepartmentEntry, cause: Envelope?, now: Date) -> PresenceAction {
        let available = agents.values.filter { $0.isTakingChats && $0.departmentIds.contains(department.id) }.count
        let event = DepartmentAvailabilityChanged(departmentId: department.id, displayName: department.displayName, open: available > 0, availableAgents: available)
        return .publish(WireRecord(topic: .presenceDepartments, key: department.id, envelope: envelope(.departmentAvailabilityChanged(event), cause: cause, now: now)))
    }
}

public struct PresenceRefusal: Error, Equatable, Sendable {
    public var reason: String
}
