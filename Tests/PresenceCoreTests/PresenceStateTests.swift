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
        // The gateway repeats the open connection (heartbeat): it stays open.
        for second in stride(from: 13.0, through: 53, by: 10) {
            _ = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k2", gatewayId: "g1")), at: start.addingTimeInterval(second))
        }
        #expect(state.expireGracePeriods(now: start.addingTimeInterval(60)).isEmpty)
        #expect(state.agents["bob"]?.status == .online)
    }

    @Test func aConnectionNoGatewayMentionsAnyMoreEnds() {
        var state = makeState()
        _ = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k1", gatewayId: "g1")), at: start)
        let repeated = run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k1", gatewayId: "g1")), at: start.addingTimeInterval(20))
        #expect(departmentChanges(repeated).isEmpty, "a heartbeat changes nothing anyone sees")
        #expect(state.expireGracePeriods(now: start.addingTimeInterval(49)).isEmpty, "heard of 29 s ago: still open")
        _ = state.expireGracePeriods(now: start.addingTimeInterval(51))
        #expect(state.agents["bob"]?.connections.isEmpty == true, "silent for 31 s: over")
        #expect(state.agents["bob"]?.status == .online, "then the grace period as after a disconnect")
        let offline = state.expireGracePeriods(now: start.addingTimeInterval(61))
        #expect(state.agents["bob"]?.status == .offline)
        #expect(departmentChanges(offline) == ["support": false])
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
        #expect(configuration?.agents.isEmpty == true, "no account exists unless configured or created")
        #expect(throws: (any Error).self) {
            try PresenceConfiguration(environment: .init(["PRESENCE_AGENTS": "eve:Eve:support::boss"]))
        }
        #expect(throws: (any Error).self) {
            try PresenceConfiguration(environment: .init(["PRESENCE_AGENTS": "eve:Eve:support:::plain-password"]))
        }
        #expect(throws: (any Error).self) {
            try PresenceConfiguration(environment: .init(["PRESENCE_AGENTS": "Eve:Eve:support"]))
        }
        let provisioned = try? PresenceConfiguration(environment: .init(["PRESENCE_AGENTS": "eve:Eve Evans:support::agent+supervisor:$2b$04$abcdefghijklmnopqrstuu",
                                                                         "PRESENCE_AWAY_AFTER_MINUTES": "2.5"]))
        #expect(provisioned?.agents.first?.account.roles == [.agent, .supervisor])
        #expect(provisioned?.agents.first?.account.passwordHash == "$2b$04$abcdefghijklmnopqrstuu")
        #expect(provisioned?.agents.first?.maxChats == nil)
        #expect(provisioned?.agents.first?.account.awayAfterMinutes == 2.5)
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

/// Several presence instances: each decides for the agents of its partitions and publishes
/// the departments homed there, counting every agent through `presence.agents`.
@Suite struct PresenceScaleOutTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let departments = [DepartmentEntry(id: "support", displayName: "Support"), DepartmentEntry(id: "sales", displayName: "Sales")]

    func instance(owning partitions: Set<Int32>) -> PresenceState {
        PresenceState(agents: [AgentPresence(id: "alice", displayName: "Alice", departmentIds: ["support", "sales"]),
                               AgentPresence(id: "bob", displayName: "Bob", departmentIds: ["support"])],
                      departments: departments, gracePeriod: 10, connectionTimeout: 30, ownedPartitions: partitions, producer: "presence-x")
    }

    func published(_ actions: [PresenceAction]) -> [WireRecord] {
        actions.compactMap { if case .publish(let record) = $0 { record } else { nil } }
    }

    @Test func recordsGoToTheAgentsOwnPartition() {
        let state = instance(owning: [])
        let alice = state.partition(of: "alice")
        var owner = instance(owning: [alice])
        let actions = (try? owner.handle(Envelope(producer: "g", event: .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1"))), now: start).get()) ?? []
        let agentRecords = published(actions).filter { $0.topic == .presenceAgents }
        #expect(agentRecords.count == 1)
        #expect(agentRecords.first?.partition == alice)
        #expect(alice == Partitioning.partition(forKey: "alice", count: Int32(Topic.presenceCommands.partitions)))
    }

    @Test func timersLeaveOtherInstancesAgentsAlone() {
        let alice = instance(owning: []).partition(of: "alice")
        var owner = instance(owning: [alice])
        _ = try? owner.handle(Envelope(producer: "g", event: .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1"))), now: start).get()
        owner.release(partitions: [alice])
        #expect(owner.expireGracePeriods(now: start.addingTimeInterval(3_600)).isEmpty, "alice is someone else's now")
        #expect(owner.agents["alice"]?.status == .online)
    }

    @Test func departmentsCountAgentsOfOtherInstancesAndArePublishedByTheirHomeOnly() {
        let everything = Set((0..<Int32(Topic.presenceCommands.partitions)).map { $0 })
        let supportHome = Partitioning.partition(forKey: "support", count: Int32(Topic.presenceCommands.partitions))
        var home = instance(owning: [supportHome])
        var elsewhere = instance(owning: everything.subtracting([supportHome]))
        let online = AgentPresenceChanged(agentId: "bob", displayName: "Bob", departmentIds: ["support"], status: .online, available: true)
        if home.owns(home.agents["bob"]!) {
            // bob happens to live on the home partition: the other instance sees him remotely.
            let changes = elsewhere.noteRemote(online, now: start)
            #expect(published(changes).allSatisfy { $0.topic != .presenceDepartments || $0.key != "support" })
        } else {
            let changes = home.noteRemote(online, now: start)
            let support = published(changes).compactMap { record -> DepartmentAvailabilityChanged? in
                if case .departmentAvailabilityChanged(let change) = record.envelope.event { change } else { nil }
            }.first { $0.departmentId == "support" }
            #expect(support?.open == true && support?.availableAgents == 1)
            #expect(published(elsewhere.noteRemote(online, now: start)).allSatisfy { $0.key != "support" }, "only support's home publishes it")
        }
    }

    @Test func aTakenOverOnlineAgentWaitsForTheirGatewaysThenGoesOffline() {
        let alice = instance(owning: []).partition(of: "alice")
        var newOwner = instance(owning: [])
        _ = newOwner.noteRemote(AgentPresenceChanged(agentId: "alice", displayName: "Alice", departmentIds: ["support", "sales"], status: .online, available: false),
                                now: start)
        let adopted = newOwner.adopt(partitions: [alice], now: start)
        #expect(published(adopted).contains { $0.topic == .presenceAgents && $0.key == "alice" }, "announced by the new owner")
        #expect(newOwner.agents["alice"]?.available == false, "her choice survives the move")
        // A heartbeat from her gateway within the connection timeout keeps her online.
        _ = try? newOwner.handle(Envelope(producer: "g", event: .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1"))), now: start.addingTimeInterval(5)).get()
        #expect(newOwner.expireGracePeriods(now: start.addingTimeInterval(31)).isEmpty)
        #expect(newOwner.agents["alice"]?.status == .online)
        #expect(newOwner.agents["alice"]?.available == false, "a heartbeat does not make her available")

        // Without one, she goes offline once the connection timeout has passed.
        var other = instance(owning: [])
        _ = other.noteRemote(AgentPresenceChanged(agentId: "alice", displayName: "Alice", departmentIds: ["support", "sales"], status: .online, available: true),
                             now: start)
        _ = other.adopt(partitions: [alice], now: start)
        _ = other.expireGracePeriods(now: start.addingTimeInterval(31))
        #expect(other.agents["alice"]?.status == .offline)
    }
}

/// B5: an agent logged out of a queue does not keep its department open.
@Suite struct QueueLoginTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func loggingOutOfTheLastOpenQueueClosesItAndUnknownQueuesAreRefused() throws {
        var state = PresenceState(agents: [AgentPresence(id: "alice", displayName: "Alice", departmentIds: ["support", "sales"], maxChats: 4)],
                                  departments: [DepartmentEntry(id: "support", displayName: "Support", maxChatsPerAgent: 2),
                                                DepartmentEntry(id: "sales", displayName: "Sales")],
                                  gracePeriod: 10, producer: "p")
        _ = try state.handle(Envelope(producer: "g", event: .agentConnected(AgentConnected(agentId: "alice", connectionId: "k1", gatewayId: "g1"))), now: start).get()
        let actions = try state.handle(Envelope(producer: "g", event: .agentQueuesSet(AgentQueuesSet(agentId: "alice", departmentIds: ["sales"]))), now: start).get()
        var departments: [String: DepartmentAvailabilityChanged] = [:]
        var agent: AgentPresenceChanged?
        for case .publish(let record) in actions {
            switch record.envelope.event {
            case .departmentAvailabilityChanged(let change): departments[change.departmentId] = change
            case .agentPresenceChanged(let change): agent = change
            default: break
            }
        }
        #expect(departments["support"]?.open == false)
        #expect(departments["support"]?.maxChatsPerAgent == 2)
        #expect(departments["sales"] == nil, "sales did not change")
        #expect(agent?.queues == ["sales"] && agent?.maxChats == 4)
        #expect(state.isOpen("sales") && !state.isOpen("support"))
        let refused = state.handle(Envelope(producer: "g", event: .agentQueuesSet(AgentQueuesSet(agentId: "alice", departmentIds: ["billing"]))), now: start)
        guard case .failure = refused else { Issue.record("a queue outside her departments is refused"); return }
    }
}
