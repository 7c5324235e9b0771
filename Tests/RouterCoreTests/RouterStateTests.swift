import ChatWire
import Foundation
@testable import RouterCore
import Testing

@Suite struct RouterStateTests {
    let visitor = Participant(role: .visitor, id: "v-1", displayName: "Vera")
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
    let bob = Participant(role: .agent, id: "bob", displayName: "Bob")
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func command(_ event: WireEvent) -> Envelope { Envelope(producer: "test", event: event) }

    func openState() -> RouterState { RouterState(openDepartments: ["support"]) }

    func published(_ actions: [RouterAction]) -> [WireEvent] {
        actions.compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    func rejection(_ actions: [RouterAction]) -> RequestRejected.Code? {
        guard actions.count == 1, case .requestRejected(let rejected) = published(actions).first else { return nil }
        return rejected.code
    }

    func handle(_ state: inout RouterState, _ event: WireEvent, closed: Set<String> = []) -> [RouterAction] {
        state.handle(command(event), producer: "router-test", now: now) { closed.contains($0) }
    }

    @Test func startQueuesAChatAndAnswersOnItsKeyWithTheCause() {
        var state = openState()
        let start = command(.chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))
        let actions = state.handle(start, producer: "router-test", now: now) { _ in false }
        #expect(actions.first == .saveChat(RoutedChat(id: "c-1", departmentId: "support", visitor: visitor, status: .queued, agent: nil, queuedAt: now)))
        guard case .publish(let record) = actions.last else { Issue.record("no event"); return }
        #expect(record.topic == .chatConversations)
        #expect(record.key == "c-1")
        #expect(record.envelope.causationID == start.id)
        #expect(record.envelope.event == .chatQueued(ChatQueued(chatId: "c-1", departmentId: "support", visitor: visitor, queuedAt: now)))
    }

    @Test func aSecondStartOfTheSameVisitorReturnsTheOpenChat() {
        var state = openState()
        _ = handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))
        let again = handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-2", departmentId: "support", visitor: visitor)))
        guard case .requestRejected(let rejected) = published(again).first else { Issue.record("expected a rejection"); return }
        #expect(rejected.code == .alreadyOpen)
        #expect(rejected.existingChatId == "c-1")
        #expect(state.openChats.count == 1)
    }

    @Test func aClosedDepartmentTakesNoChats() {
        var state = RouterState()
        #expect(rejection(handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))) == .departmentClosed)
        _ = handle(&state, .departmentAvailabilityChanged(DepartmentAvailabilityChanged(departmentId: "support", displayName: "S", open: true, availableAgents: 1)))
        #expect(published(handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))).count == 1)
        #expect(state.openChats["c-1"]?.status == .queued)
    }

    @Test func exactlyOneOfTwoAgentsTakesAChat() {
        var state = openState()
        _ = handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))
        let first = handle(&state, .chatTakeRequested(ChatTakeRequested(chatId: "c-1", departmentId: "support", agent: alice)))
        let second = handle(&state, .chatTakeRequested(ChatTakeRequested(chatId: "c-1", departmentId: "support", agent: bob)))
        #expect(published(first) == [.chatAssigned(ChatAssigned(chatId: "c-1", departmentId: "support", agent: alice, reason: .manualPick))])
        #expect(rejection(second) == .alreadyTaken)
        #expect(state.openChats["c-1"]?.agent == alice)
    }

    @Test func invalidTransitionsAreRefusedAndChangeNothing() {
        var state = openState()
        _ = handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))
        let before = state.openChats
        #expect(rejection(handle(&state, .chatTakeRequested(ChatTakeRequested(chatId: "nope", departmentId: "support", agent: alice)))) == .unknownChat)
        #expect(rejection(handle(&state, .chatTakeRequested(ChatTakeRequested(chatId: "c-1", departmentId: "sales", agent: alice)))) == .unknownChat)
        #expect(rejection(handle(&state, .chatCloseRequested(ChatCloseRequested(chatId: "c-1", departmentId: "support", requestedBy: bob)))) == .notParticipant)
        #expect(rejection(handle(&state, .chatTakeRequested(ChatTakeRequested(chatId: "old", departmentId: "support", agent: alice)), closed: ["old"])) == .chatClosed)
        #expect(state.openChats == before)
    }

    @Test func closingFreesTheVisitorForANewChat() {
        var state = openState()
        _ = handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))
        let closed = handle(&state, .chatCloseRequested(ChatCloseRequested(chatId: "c-1", departmentId: "support", requestedBy: visitor)))
        #expect(published(closed) == [.chatClosed(ChatClosed(chatId: "c-1", departmentId: "support", closedBy: visitor))])
        #expect(state.openChats.isEmpty)
        #expect(rejection(handle(&state, .chatCloseRequested(ChatCloseRequested(chatId: "c-1", departmentId: "support", requestedBy: visitor)), closed: ["c-1"])) == .chatClosed)
        #expect(published(handle(&state, .chatStartRequested(ChatStartRequested(chatId: "c-2", departmentId: "support", visitor: visitor)))).count == 1)
    }

    @Test func stateRestoredFromTheStoreKeepsOwnership() {
        let chat = RoutedChat(id: "c-1", departmentId: "support", visitor: visitor, status: .assigned, agent: alice, queuedAt: now)
        var state = RouterState(openChats: [chat], openDepartments: ["support"])
        let take = state.handle(Envelope(producer: "t", event: .chatTakeRequested(ChatTakeRequested(chatId: "c-1", departmentId: "support", agent: bob))),
                                producer: "r", now: now) { _ in false }
        guard case .publish(let record) = take.first, case .requestRejected(let rejected) = record.envelope.event else {
            Issue.record("expected a rejection")
            return
        }
        #expect(rejected.code == .alreadyTaken)
    }
}

@Suite struct RequeueTests {
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
    let bob = Participant(role: .agent, id: "bob", displayName: "Bob")

    @Test func anOfflineAgentsChatsReturnToTheQueueInTheirOriginalOrder() {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        func chat(_ id: String, _ minutes: Double, _ agent: Participant?) -> RoutedChat {
            RoutedChat(id: id, departmentId: "support", visitor: Participant(role: .visitor, id: "v-\(id)", displayName: id),
                       status: agent == nil ? .queued : .assigned, agent: agent, queuedAt: base.addingTimeInterval(minutes * 60))
        }
        var state = RouterState(openChats: [chat("late", 5, alice), chat("early", 1, alice), chat("bobs", 2, bob), chat("waiting", 3, nil)],
                                openDepartments: ["support"])
        let offline = AgentPresenceChanged(agentId: "alice", displayName: "Alice", departmentIds: ["support"], status: .offline, available: false)
        let actions = state.handle(Envelope(producer: "presence", event: .agentPresenceChanged(offline)), producer: "r", now: base) { _ in false }
        let requeued = actions.compactMap { action -> String? in
            guard case .publish(let record) = action, case .chatRequeued(let event) = record.envelope.event else { return nil }
            #expect(event.previousAgent == alice)
            return event.chatId
        }
        #expect(requeued == ["early", "late"])
        #expect(state.openChats["early"]?.status == .queued)
        #expect(state.openChats["early"]?.queuedAt == base.addingTimeInterval(60), "keeps its place")
        #expect(state.openChats["bobs"]?.agent == bob)
        // An online change or a repeat changes nothing.
        let again = state.handle(Envelope(producer: "presence", event: .agentPresenceChanged(offline)), producer: "r", now: base) { _ in false }
        #expect(again.isEmpty)
    }
}

@Suite struct AutomaticAssignmentTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 2)

    func agent(_ id: String, taking: Bool = true, departments: [String] = ["support"]) -> AgentPresenceChanged {
        AgentPresenceChanged(agentId: id, displayName: id.capitalized, departmentIds: departments, status: taking ? .online : .offline, available: taking)
    }

    func start(_ state: inout RouterState, _ chatId: String, minute: Double) -> [RouterAction] {
        let visitor = Participant(role: .visitor, id: "v-\(chatId)", displayName: chatId)
        return state.handle(Envelope(producer: "g", event: .chatStartRequested(ChatStartRequested(chatId: chatId, departmentId: "support", visitor: visitor))),
                            producer: "r", now: now.addingTimeInterval(minute * 60)) { _ in false }
    }

    func apply(_ state: inout RouterState, _ event: WireEvent) -> [RouterAction] {
        state.handle(Envelope(producer: "p", event: event), producer: "r", now: now) { _ in false }
    }

    func assignments(_ actions: [RouterAction]) -> [(chat: String, agent: String, decision: ChatAssigned.Decision?)] {
        actions.compactMap { action in
            guard case .publish(let record) = action, case .chatAssigned(let assigned) = record.envelope.event else { return nil }
            #expect(assigned.reason == .automatic)
            return (assigned.chatId, assigned.agent.id, assigned.decision)
        }
    }

    @Test func waitingChatsGoToTheLeastLoadedAgentUpToTheMaximum() {
        var state = RouterState(openDepartments: ["support"], policy: policy)
        _ = apply(&state, .agentPresenceChanged(agent("alice")))
        _ = apply(&state, .agentPresenceChanged(agent("bob")))
        var given: [(chat: String, agent: String, decision: ChatAssigned.Decision?)] = []
        for (index, chat) in ["c1", "c2", "c3", "c4", "c5"].enumerated() {
            given += assignments(start(&state, chat, minute: Double(index)))
        }
        #expect(given.map(\.chat) == ["c1", "c2", "c3", "c4"])
        #expect(given.map(\.agent) == ["alice", "bob", "alice", "bob"])
        #expect(given[1].decision?.candidates == [.init(agentId: "bob", activeChats: 0), .init(agentId: "alice", activeChats: 1)])
        #expect(state.openChats["c5"]?.status == .queued, "both agents are at their maximum")
        #expect(state.load(of: "alice") == 2)

        // Capacity frees up: the oldest waiting chat goes at once.
        let close = apply(&state, .chatCloseRequested(ChatCloseRequested(chatId: "c1", departmentId: "support", requestedBy: Participant(role: .agent, id: "alice", displayName: "Alice"))))
        #expect(assignments(close).map(\.chat) == ["c5"])
    }

    @Test func chatsDoNotStayQueuedAcrossAvailabilityToggles() {
        var state = RouterState(openDepartments: ["support"], policy: policy)
        _ = apply(&state, .agentPresenceChanged(agent("alice", taking: false)))
        #expect(assignments(start(&state, "c1", minute: 0)).isEmpty)
        #expect(assignments(start(&state, "c2", minute: 1)).isEmpty)
        for _ in 0..<3 {
            _ = apply(&state, .agentPresenceChanged(agent("alice", taking: false)))
        }
        let back = apply(&state, .agentPresenceChanged(agent("alice")))
        #expect(assignments(back).map(\.chat) == ["c1", "c2"], "oldest first, as soon as the agent is available")
    }

    @Test func agentsOfOtherDepartmentsAndUnavailableAgentsAreNotCandidates() {
        var state = RouterState(openDepartments: ["support"], policy: policy)
        _ = apply(&state, .agentPresenceChanged(agent("sam", departments: ["sales"])))
        _ = apply(&state, .agentPresenceChanged(agent("una", taking: false)))
        #expect(assignments(start(&state, "c1", minute: 0)).isEmpty)
        #expect(state.openChats["c1"]?.status == .queued)
    }

    @Test func manualModeNeverAssignsByItself() {
        var state = RouterState(openDepartments: ["support"], policy: RoutingPolicy(assignment: .manual, maxChatsPerAgent: 2))
        _ = apply(&state, .agentPresenceChanged(agent("alice")))
        #expect(assignments(start(&state, "c1", minute: 0)).isEmpty)
    }
}
