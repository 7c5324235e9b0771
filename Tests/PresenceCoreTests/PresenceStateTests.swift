import ChatWire
import Foundation
@testable import PresenceCore
import Testing

@Suite struct PresenceStateTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func makeState() -> PresenceState {
        PresenceState(
            agents: [AgentPresence(id: "alice", displayName: "Alice", departmentIds: ["support", "sales"]),
                     AgentPresence(id: "bob", displayName: "Bob", departmentIds: ["support"])],
            departments: [DepartmentEntry(id: "support", displayName: "Support"), DepartmentEntry(id: "sales", displayName: "Sales")],
            gracePeriod: 10, producer: "presence-test")
    }

    func run(_ state: inout PresenceState, _ event: WireEvent, at time: Date) -> [PresenceAction] {
        (try? state.handle(Envelope(producer: "gateway", event: event), now: time).get()) ?? []
    }

    func departmentChanges(_ actions: [PresenceAction]) -> [String: Bool] {
        var changes: [String: Bool] = [:]
        for case .publish(let record) in actions {
            if case .departmentAvailabilityChanged(let change) = record.envelope.event { changes[change.departmentId] = change.open }
        }
        return changes
    }

    @Test func connectingMakesAnAgentAvailableAndOpensTheirDepartments() {
        var state = makeState()
        let actions = run(&state, .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1")), at: start)
        #expect(state.agents["alice"]?.status == .online)
        #expect(state.agents["alice"]?.available == true)
        #expect(departmentChanges(actions) == ["support": true, "sales": true])
    }

    @Test func aSecondConnectionDoesNotResetAvailability() {
        var state = makeState()
        _ = run(&state, .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1")), at: start)
        _ = run(&state, .agentAvailabilitySet(AgentAvailabilitySet(agentId: "alice", available: false)), at: start)
        let second = run(&state, .agentConnected(AgentConnected(agentId: "alice", connectionId: "k2", gatewayId: "g2")), at: start)
        #expect(state.agents["alice"]?.available == false)
        #expect(departmentChanges(second).isEmpty)
    }

    @Test func lastDisconnectWaitsForTheGracePeriod() {
        var state = makeState()
        _ = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k1", gatewayId: "g1")), at: start)
        _ = run(&state, .agentDisconnected(AgentDisconnected(agentId: "bob", connectionId: "k1", gatewayId: "g1")), at: start)
        #expect(state.expireGracePeriods(now: start.addingTimeInterval(9)).isEmpty)
        #expect(state.agents["bob"]?.status == .online)
        let expired = state.expireGracePeriods(now: start.addingTimeInterval(10))
        #expect(state.agents["bob"]?.status == .offline)
        #expect(departmentChanges(expired) == ["support": false])
    }

    @Test func reconnectingWithinTheGracePeriodKeepsTheAgentOnline() {
        var state = makeState()
        _ = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k1", gatewayId: "g1")), at: start)
        _ = run(&state, .agentDisconnected(AgentDisconnected(agentId: "bob", connectionId: "k1", gatewayId: "g1")), at: start)
        _ = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k2", gatewayId: "g1")), at: start.addingTimeInterval(3))
        #expect(state.expireGracePeriods(now: start.addingTimeInterval(60)).isEmpty)
        #expect(state.agents["bob"]?.status == .online)
    }

    @Test func aRestartedGatewayDropsItsConnections() {
        var state = makeState()
        _ = run(&state, .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1")), at: start)
        _ = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k2", gatewayId: "g2")), at: start)
        _ = run(&state, .gatewayStarted(GatewayStarted(gatewayId: "g1")), at: start)
        #expect(state.agents["alice"]?.connections.isEmpty == true)
        #expect(state.agents["bob"]?.connections.count == 1)
        _ = state.expireGracePeriods(now: start.addingTimeInterval(10))
        #expect(state.agents["alice"]?.status == .offline)
        #expect(state.isOpen("support"))
        #expect(!state.isOpen("sales"))
    }

    @Test func unknownAgentsAndOfflineTogglesAreRefused() {
        var state = makeState()
        let unknown = state.handle(Envelope(producer: "g", event: .agentConnected(AgentConnected(agentId: "eve", connectionId: "k", gatewayId: "g"))), now: start)
        #expect(throws: PresenceRefusal.self) { try unknown.get() }
        let offline = state.handle(Envelope(producer: "g", event: .agentAvailabilitySet(AgentAvailabilitySet(agentId: "bob", available: true))), now: start)
        #expect(throws: PresenceRefusal.self) { try offline.get() }
        #expect(state.agents["bob"]?.available == false)
    }

    @Test func configurationRejectsAgentsOfUndefinedDepartments() {
        #expect(throws: (any Error).self) {
            try PresenceConfiguration(environment: .init(["PRESENCE_AGENTS": "eve:Eve:nowhere"]))
        }
        #expect(throws: (any Error).self) {
            try PresenceConfiguration(environment: .init(["PRESENCE_GRACE_SECONDS": "soon"]))
        }
        let configuration = try? PresenceConfiguration(environment: .init([:]))
        #expect(configuration?.agents.map(\.id) == ["alice", "bob"])
    }
}

@Suite struct BusyTests {
    @Test func aBusyAgentStaysOnlineButClosesTheDepartmentsTheyAloneKeptOpen() throws {
        var state = PresenceState(agents: [AgentPresence(id: "bob", displayName: "Bob", departmentIds: ["support"])],
                                  departments: [DepartmentEntry(id: "support", displayName: "Support")], gracePeriod: 5, producer: "p")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try state.handle(Envelope(producer: "g", event: .agentConnected(AgentConnected(agentId: "bob", connectionId: "k", gatewayId: "g"))), now: now).get()
        #expect(state.isOpen("support"))
        let busy = try state.handle(Envelope(producer: "g", event: .agentAvailabilitySet(AgentAvailabilitySet(agentId: "bob", available: true, busy: true))), now: now).get()
        #expect(!state.isOpen("support"))
        #expect(state.agents["bob"]?.status == .online)
        let published = busy.compactMap { action -> AgentPresenceChanged? in
            guard case .publish(let record) = action, case .agentPresenceChanged(let change) = record.envelope.event else { return nil }
            return change
        }
        #expect(published.first?.busy == true)
        #expect(published.first?.takingChats == false)
        // Leaving busy out keeps it; clearing it reopens.
        _ = try state.handle(Envelope(producer: "g", event: .agentAvailabilitySet(AgentAvailabilitySet(agentId: "bob", available: true))), now: now).get()
        #expect(!state.isOpen("support"))
        _ = try state.handle(Envelope(producer: "g", event: .agentAvailabilitySet(AgentAvailabilitySet(agentId: "bob", available: true, busy: false))), now: now).get()
        #expect(state.isOpen("support"))
    }
}
