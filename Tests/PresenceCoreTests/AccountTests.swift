import ChatWire
import Foundation
@testable import PresenceCore
import Testing

/// B1 accounts and B2 away, as the presence state machine decides them.
@Suite struct AccountTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func makeState() -> PresenceState {
        PresenceState(agents: [AgentPresence(id: "admin", displayName: "Ada", departmentIds: ["support"], roles: [.admin, .agent])],
                      departments: [DepartmentEntry(id: "support", displayName: "Support"), DepartmentEntry(id: "sales", displayName: "Sales")],
                      gracePeriod: 10, producer: "presence-test", defaultAwayAfterMinutes: 5)
    }

    func run(_ state: inout PresenceState, _ event: WireEvent, at time: Date) -> Result<[PresenceAction], PresenceRefusal> {
        state.handle(Envelope(producer: "gateway", event: event), now: time)
    }

    func published(_ actions: [PresenceAction]) -> [WireEvent] {
        actions.compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    func register(_ state: inout PresenceState, _ login: String, registration: String = "r-1") -> [PresenceAction] {
        (try? run(&state, .accountRegistrationRequested(AccountRegistrationRequested(agentId: login, displayName: "Carol", passwordHash: "$2b$04$x",
                                                                                      registrationId: registration)), at: start).get()) ?? []
    }

    @Test func aRegistrationWaitsForApprovalAndIsNotAnAgentYet() throws {
        var state = makeState()
        let actions = register(&state, "carol")
        let accounts = published(actions).compactMap { if case .accountUpdated(let account) = $0 { account } else { nil } }
        #expect(accounts.map(\.status) == [.pending])
        #expect(accounts.first?.departmentIds == [])
        #expect(!published(actions).contains { if case .agentPresenceChanged = $0 { true } else { false } }, "the router does not hear of a pending account")
        let connect = run(&state, .agentConnected(AgentConnected(agentId: "carol", connectionId: "k", gatewayId: "g")), at: start)
        #expect(throws: PresenceRefusal.self) { try connect.get() }
    }

    @Test func aTakenLoginStaysWithItsOwnerAndAReplayChangesNothing() {
        var state = makeState()
        _ = register(&state, "carol", registration: "r-1")
        #expect(register(&state, "carol", registration: "r-2").isEmpty)
        #expect(register(&state, "carol", registration: "r-1").isEmpty)
        #expect(state.agents["carol"]?.account.registrationId == "r-1")
        #expect(register(&state, "admin", registration: "r-3").isEmpty)
        #expect(state.agents["admin"]?.account.roles == [.agent, .admin])
    }

    @Test func approvalGivesRolesAndDepartmentsAndTheAgentCanConnect() throws {
        var state = makeState()
        _ = register(&state, "carol")
        let approve = try run(&state, .accountUpdateRequested(AccountUpdateRequested(agentId: "carol", actorId: "admin", status: .active, roles: [.agent],
                                                                                     departmentIds: ["sales"])), at: start).get()
        #expect(published(approve).contains { if case .agentPresenceChanged(let change) = $0 { change.departmentIds == ["sales"] } else { false } })
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "carol", connectionId: "k", gatewayId: "g")), at: start).get()
        #expect(state.isOpen("sales"))
    }

    @Test func unknownDepartmentsBadStatusMovesAndEmptyRolesAreRefused() {
        var state = makeState()
        _ = register(&state, "carol")
        for change in [AccountUpdateRequested(agentId: "carol", actorId: "admin", departmentIds: ["nowhere"]),
                       AccountUpdateRequested(agentId: "carol", actorId: "admin", status: .disabled),
                       AccountUpdateRequested(agentId: "carol", actorId: "admin", roles: []),
                       AccountUpdateRequested(agentId: "nobody", actorId: "admin", status: .active)] {
            let before = state.agents
            #expect(throws: PresenceRefusal.self) { try run(&state, .accountUpdateRequested(change), at: start).get() }
            #expect(state.agents == before)
        }
    }

    @Test func disablingEndsSessionsAndTakesTheAgentOfflineAtOnce() throws {
        var state = makeState()
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "admin", connectionId: "k", gatewayId: "g")), at: start).get()
        let actions = try run(&state, .accountUpdateRequested(AccountUpdateRequested(agentId: "admin", actorId: "root", status: .disabled)),
                              at: start.addingTimeInterval(5)).get()
        #expect(state.agents["admin"]?.status == .offline)
        #expect(state.agents["admin"]?.account.sessionsNotBefore == start.addingTimeInterval(5))
        #expect(published(actions).contains { if case .agentPresenceChanged(let change) = $0 { change.status == .offline } else { false } })
        #expect(!state.isOpen("support"))
    }

    @Test func signingOutRevokesOneSessionAndForgetsItAfterItsExpiry() throws {
        var state = makeState()
        _ = try run(&state, .sessionRevokeRequested(SessionRevokeRequested(agentId: "admin", actorId: "admin", sessionId: "s-1",
                                                                          expiresAt: start.addingTimeInterval(60))), at: start).get()
        let account = try #require(state.agents["admin"]?.account)
        #expect(!account.accepts(sessionId: "s-1", issuedAt: start))
        #expect(account.accepts(sessionId: "s-2", issuedAt: start))
        _ = try run(&state, .sessionRevokeRequested(SessionRevokeRequested(agentId: "admin", actorId: "admin", sessionId: "s-3",
                                                                          expiresAt: start.addingTimeInterval(600))), at: start.addingTimeInterval(120)).get()
        #expect(state.agents["admin"]?.account.revokedSessions.map(\.sessionId) == ["s-3"])
    }

    @Test func theLastConnectionClosedBySigningOutEndsPresenceWithoutGrace() throws {
        var state = makeState()
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "admin", connectionId: "k1", gatewayId: "g")), at: start).get()
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "admin", connectionId: "k2", gatewayId: "g")), at: start).get()
        _ = try run(&state, .agentDisconnected(AgentDisconnected(agentId: "admin", connectionId: "k1", gatewayId: "g", signedOut: true)), at: start).get()
        #expect(state.agents["admin"]?.status == .online, "another tab is still open")
        _ = try run(&state, .agentDisconnected(AgentDisconnected(agentId: "admin", connectionId: "k2", gatewayId: "g", signedOut: true)), at: start).get()
        #expect(state.agents["admin"]?.status == .offline)
    }

    @Test func idleAgentsGoAwayAndComeBackWithActivity() throws {
        var state = PresenceState(agents: [AgentPresence(id: "bob", displayName: "Bob", departmentIds: ["support"], awayAfterMinutes: 1)],
                                  departments: [DepartmentEntry(id: "support", displayName: "Support")], gracePeriod: 10, producer: "p")
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k", gatewayId: "g")), at: start).get()
        // Heartbeats are not activity.
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k", gatewayId: "g")), at: start.addingTimeInterval(30)).get()
        #expect(state.expireGracePeriods(now: start.addingTimeInterval(59)).isEmpty)
        let away = state.expireGracePeriods(now: start.addingTimeInterval(60))
        #expect(state.agents["bob"]?.status == .away)
        #expect(!state.isOpen("support"), "an away agent takes no new chats")
        #expect(published(away).contains { if case .agentPresenceChanged(let change) = $0 { change.status == .away && !change.takingChats } else { false } })
        _ = try run(&state, .agentActive(AgentActive(agentId: "bob")), at: start.addingTimeInterval(61)).get()
        #expect(state.agents["bob"]?.status == .online)
        #expect(state.isOpen("support"))
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k", gatewayId: "g")), at: start.addingTimeInterval(100)).get()
        _ = state.expireGracePeriods(now: start.addingTimeInterval(120))
        #expect(state.agents["bob"]?.status == .online, "the clock started over at the activity")
    }

    @Test func zeroMinutesMeansNeverAway() throws {
        var state = PresenceState(agents: [AgentPresence(id: "bob", displayName: "Bob", departmentIds: ["support"], awayAfterMinutes: 0)],
                                  departments: [DepartmentEntry(id: "support", displayName: "Support")], gracePeriod: 10, producer: "p")
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k", gatewayId: "g")), at: start).get()
        _ = try run(&state, .agentConnected(AgentConnected(agentId: "bob", connectionId: "k", gatewayId: "g")), at: start.addingTimeInterval(20_000)).get()
        _ = state.expireGracePeriods(now: start.addingTimeInterval(20_000))
        #expect(state.agents["bob"]?.status == .online)
    }
}
