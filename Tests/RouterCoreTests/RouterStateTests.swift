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

@Suite struct OwnerActionTests {
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
    let bob = Participant(role: .agent, id: "bob", displayName: "Bob")
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func assignedState() -> RouterState {
        let visitor = Participant(role: .visitor, id: "v-1", displayName: "Vera")
        let chat = RoutedChat(id: "c-1", departmentId: "support", visitor: visitor, status: .assigned, agent: alice, queuedAt: start, activeSince: start)
        return RouterState(openChats: [chat], openDepartments: ["support", "sales"],
                           agents: [RoutingAgent(id: "bob", displayName: "Bob", departmentIds: ["support"], takingChats: true),
                                    RoutingAgent(id: "sam", displayName: "Sam", departmentIds: ["sales"], takingChats: true)])
    }

    func act(_ state: inout RouterState, _ action: ChatOwnerActionRequested.Action, by agent: Participant? = nil, at seconds: Double,
             toDepartment: String? = nil, toAgent: String? = nil) -> [WireEvent] {
        let request = ChatOwnerActionRequested(chatId: "c-1", departmentId: state.openChats["c-1"]?.departmentId ?? "support", agent: agent ?? alice,
                                               action: action, toDepartmentId: toDepartment, toAgentId: toAgent)
        return state.handle(Envelope(producer: "g", event: .chatOwnerActionRequested(request)), producer: "r", now: start.addingTimeInterval(seconds)) { _ in false }
            .compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    func code(_ events: [WireEvent]) -> RequestRejected.Code? {
        if case .requestRejected(let rejected)? = events.first { return rejected.code }
        return nil
    }

    @Test func parkingKeepsOwnershipAndAccumulatesHandlingTime() {
        var state = assignedState()
        #expect(act(&state, .park, at: 60) == [.chatParked(ChatParkChanged(chatId: "c-1", departmentId: "support", agent: alice, handlingSeconds: 60))])
        #expect(state.openChats["c-1"]?.status == .parked)
        #expect(state.load(of: "alice") == 0, "a parked chat does not count as active")
        #expect(code(act(&state, .park, at: 70)) == .invalidTransition)
        #expect(act(&state, .unpark, at: 300) == [.chatUnparked(ChatParkChanged(chatId: "c-1", departmentId: "support", agent: alice, handlingSeconds: 60))])
        #expect(state.openChats["c-1"]?.handlingSeconds(at: start.addingTimeInterval(330)) == 90, "the timer restarts on unpark")
        #expect(code(act(&state, .unpark, at: 340)) == .invalidTransition)
    }

    @Test func onlyTheOwnerActs() {
        var state = assignedState()
        #expect(code(act(&state, .park, by: bob, at: 1)) == .notOwner)
        #expect(code(act(&state, .returnToQueue, by: bob, at: 1)) == .notOwner)
        #expect(state.openChats["c-1"]?.agent == alice)
    }

    @Test func returnToQueueFreesTheChatForOthers() {
        var state = assignedState()
        #expect(act(&state, .returnToQueue, at: 30) == [.chatRequeued(ChatRequeued(chatId: "c-1", departmentId: "support", previousAgent: alice, reason: .returnedByAgent))])
        #expect(state.openChats["c-1"]?.status == .queued)
        #expect(state.openChats["c-1"]?.handledSeconds == 30)
    }

    @Test func transferToAnAvailableAgentOfTheDepartment() {
        var state = assignedState()
        #expect(code(act(&state, .transfer, at: 5, toAgent: "sam")) == .targetUnavailable, "sam is not in support")
        #expect(code(act(&state, .transfer, at: 5, toAgent: "nobody")) == .targetUnavailable)
        let moved = act(&state, .transfer, at: 5, toAgent: "bob")
        #expect(moved == [.chatTransferred(ChatTransferred(chatId: "c-1", fromDepartmentId: "support", toDepartmentId: "support", previousAgent: alice, toAgent: bob))])
        #expect(state.openChats["c-1"]?.agent == bob)
    }

    @Test func transferToAnotherDepartmentHandsTheChatOver() {
        var state = assignedState()
        let visitor = state.openChats["c-1"]!.visitor
        let actions = state.handle(Envelope(producer: "g", event: .chatOwnerActionRequested(ChatOwnerActionRequested(
            chatId: "c-1", departmentId: "support", agent: alice, action: .transfer, toDepartmentId: "sales"))), producer: "r", now: start) { _ in false }
        let records = actions.compactMap { if case .publish(let record) = $0 { record } else { nil } }
        #expect(records.map(\.topic) == [.chatConversations, .chatCommands])
        #expect(records[1].key == "sales", "the target department's owner admits it")
        #expect(state.openChats["c-1"] == nil)
        // The owner of sales admits it, keeping its place.
        let admitted = state.handle(records[1].envelope, producer: "r", now: start.addingTimeInterval(1)) { _ in false }
        guard case .publish(let queued)? = admitted.last, case .chatQueued(let event) = queued.envelope.event else {
            Issue.record("admission publishes chat.queued")
            return
        }
        #expect(event.departmentId == "sales")
        #expect(state.openChats["c-1"]?.departmentId == "sales")
        #expect(state.openChats["c-1"]?.status == .queued)
        #expect(state.openChats["c-1"]?.queuedAt == start)
        #expect(state.openChats["c-1"]?.visitor == visitor)
    }

    @Test func transferToAClosedDepartmentIsRefused() {
        var state = RouterState(openChats: [RoutedChat(id: "c-1", departmentId: "support", visitor: Participant(role: .visitor, id: "v", displayName: "V"),
                                                       status: .assigned, agent: alice, queuedAt: start)], openDepartments: ["support"])
        #expect(code(act(&state, .transfer, at: 1, toDepartment: "sales")) == .targetUnavailable)
        #expect(code(act(&state, .transfer, at: 1)) == .invalidTransition)
        #expect(state.openChats["c-1"]?.status == .assigned)
    }
}

@Suite struct ParkedRequeueTests {
    @Test func parkedChatsOfAnOfflineAgentReturnToo() {
        let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var state = RouterState(openChats: [RoutedChat(id: "p", departmentId: "support", visitor: Participant(role: .visitor, id: "v", displayName: "V"),
                                                       status: .parked, agent: alice, queuedAt: now, handledSeconds: 40)])
        let offline = AgentPresenceChanged(agentId: "alice", displayName: "Alice", departmentIds: ["support"], status: .offline, available: false)
        _ = state.handle(Envelope(producer: "p", event: .agentPresenceChanged(offline)), producer: "r", now: now) { _ in false }
        #expect(state.openChats["p"]?.status == .queued)
        #expect(state.openChats["p"]?.handledSeconds == 40)
    }
}

@Suite struct InviteTests {
    @Test func theOwnerInvitesAnAvailableAgentOfTheDepartmentOnce() {
        let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var state = RouterState(
            openChats: [RoutedChat(id: "c", departmentId: "support", visitor: Participant(role: .visitor, id: "v", displayName: "V"), status: .assigned, agent: alice, queuedAt: now)],
            agents: [RoutingAgent(id: "bob", displayName: "Bob", departmentIds: ["support"], takingChats: true),
                     RoutingAgent(id: "una", displayName: "Una", departmentIds: ["support"], takingChats: false)])
        func invite(_ id: String) -> WireEvent? {
            let request = ChatOwnerActionRequested(chatId: "c", departmentId: "support", agent: alice, action: .invite, toAgentId: id)
            let actions = state.handle(Envelope(producer: "g", event: .chatOwnerActionRequested(request)), producer: "r", now: now) { _ in false }
            if case .publish(let record)? = actions.last { return record.envelope.event }
            return nil
        }
        guard case .chatAgentInvited(let invited)? = invite("bob") else { Issue.record("bob joins"); return }
        #expect(invited.agent.id == "bob")
        #expect(state.openChats["c"]?.invited.map(\.id) == ["bob"])
        guard case .requestRejected(let twice)? = invite("bob"), case .requestRejected(let unavailable)? = invite("una") else { Issue.record("refusals"); return }
        #expect(twice.code == .targetUnavailable)
        #expect(unavailable.code == .targetUnavailable)
    }
}

@Suite struct OfferTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func state() -> RouterState {
        var state = RouterState(openDepartments: ["support"], policy: RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 1, offerTimeoutSeconds: 20))
        for id in ["alice", "bob"] {
            _ = state.handle(Envelope(producer: "p", event: .agentPresenceChanged(AgentPresenceChanged(
                agentId: id, displayName: id, departmentIds: ["support"], status: .online, available: true))), producer: "r", now: now) { _ in false }
        }
        let visitor = Participant(role: .visitor, id: "v", displayName: "V")
        _ = state.handle(Envelope(producer: "g", event: .chatStartRequested(ChatStartRequested(chatId: "c", departmentId: "support", visitor: visitor))),
                         producer: "r", now: now) { _ in false }
        return state
    }

    func events(_ actions: [RouterAction]) -> [WireEvent] {
        actions.compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    @Test func anUnansweredOfferGoesToTheNextAgent() {
        var state = state()
        #expect(state.openChats["c"]?.status == .offered)
        #expect(state.openChats["c"]?.offeredTo?.id == "alice")
        #expect(state.expireOffers(now: now.addingTimeInterval(19), producer: "r").isEmpty)
        let moved = events(state.expireOffers(now: now.addingTimeInterval(20), producer: "r"))
        guard moved.count == 2, case .chatOfferWithdrawn(let withdrawn) = moved[0], case .chatOffered(let next) = moved[1] else {
            Issue.record("expected withdrawn then offered: \(moved)")
            return
        }
        #expect(withdrawn.reason == .timeout)
        #expect(next.agent.id == "bob")
        #expect(next.expiresAt == now.addingTimeInterval(40))
        // Bob lets it pass too: it comes back to alice rather than waiting forever.
        let again = events(state.expireOffers(now: now.addingTimeInterval(40), producer: "r"))
        guard case .chatOffered(let third)? = again.last else { Issue.record("offered again"); return }
        #expect(third.agent.id == "alice")
    }

    @Test func acceptingIsTakingAndOthersCannotTakeAnOfferedChat() {
        var state = state()
        let bob = Participant(role: .agent, id: "bob", displayName: "bob")
        let alice = Participant(role: .agent, id: "alice", displayName: "alice")
        let stolen = events(state.handle(Envelope(producer: "g", event: .chatTakeRequested(ChatTakeRequested(chatId: "c", departmentId: "support", agent: bob))),
                                          producer: "r", now: now) { _ in false })
        guard case .requestRejected(let rejected)? = stolen.first else { Issue.record("refused"); return }
        #expect(rejected.code == .alreadyTaken)
        let accepted = events(state.handle(Envelope(producer: "g", event: .chatTakeRequested(ChatTakeRequested(chatId: "c", departmentId: "support", agent: alice))),
                                            producer: "r", now: now) { _ in false })
        guard case .chatAssigned(let assigned)? = accepted.first else { Issue.record("assigned"); return }
        #expect(assigned.reason == .offerAccepted)
        #expect(state.openChats["c"]?.status == .assigned)
    }

    @Test func decliningOffersTheChatToTheNextAgentAtOnce() {
        var state = state()
        let alice = Participant(role: .agent, id: "alice", displayName: "alice")
        let declined = events(state.handle(Envelope(producer: "g", event: .chatOwnerActionRequested(ChatOwnerActionRequested(
            chatId: "c", departmentId: "support", agent: alice, action: .decline))), producer: "r", now: now) { _ in false })
        guard case .chatOffered(let next)? = declined.last else { Issue.record("offered to bob: \(declined)"); return }
        #expect(next.agent.id == "bob")
    }
}

@Suite struct WrapUpTests {
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
    let visitor = Participant(role: .visitor, id: "v", displayName: "V")
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func events(_ actions: [RouterAction]) -> [WireEvent] {
        actions.compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    func act(_ state: inout RouterState, _ action: ChatOwnerActionRequested.Action, at seconds: Double) -> [WireEvent] {
        events(state.handle(Envelope(producer: "g", event: .chatOwnerActionRequested(ChatOwnerActionRequested(chatId: "c", departmentId: "support", agent: alice, action: action))),
                            producer: "r", now: start.addingTimeInterval(seconds)) { _ in false })
    }

    @Test func closingAHeldChatStartsWrapUpWhoseTimerPausesWhileParked() {
        var state = RouterState(openChats: [RoutedChat(id: "c", departmentId: "support", visitor: visitor, status: .assigned, agent: alice, queuedAt: start, activeSince: start)],
                                openDepartments: ["support"])
        let closed = events(state.handle(Envelope(producer: "g", event: .chatCloseRequested(ChatCloseRequested(chatId: "c", departmentId: "support", requestedBy: visitor))),
                                         producer: "r", now: start.addingTimeInterval(100)) { _ in false })
        #expect(closed == [.chatClosed(ChatClosed(chatId: "c", departmentId: "support", closedBy: visitor)),
                           .chatWrapUpStarted(ChatWrapUpChanged(chatId: "c", departmentId: "support", agent: alice, wrapUpSeconds: 0))])
        #expect(state.openChats["c"]?.status == .wrapUp)
        #expect(state.load(of: "alice") == 0)
        _ = act(&state, .park, at: 110)        // 10 s of wrap-up, then paused
        _ = act(&state, .unpark, at: 500)      // resumes
        let finished = act(&state, .finishWrapUp, at: 505)
        #expect(finished == [.chatWrapUpFinished(ChatWrapUpChanged(chatId: "c", departmentId: "support", agent: alice, wrapUpSeconds: 15))])
        #expect(state.openChats["c"] == nil)
    }

    @Test func wrapUpRefusesWhatNoLongerApplies() {
        var state = RouterState(openChats: [RoutedChat(id: "c", departmentId: "support", visitor: visitor, status: .wrapUp, agent: alice, queuedAt: start)],
                                openDepartments: ["support"])
        guard case .requestRejected(let transfer)? = act(&state, .returnToQueue, at: 1).first,
              case .requestRejected(let again)? = events(state.handle(Envelope(producer: "g", event: .chatCloseRequested(ChatCloseRequested(
                chatId: "c", departmentId: "support", requestedBy: alice))), producer: "r", now: start) { _ in false }).first else {
            Issue.record("refusals expected")
            return
        }
        #expect(transfer.code == .chatClosed)
        #expect(again.code == .chatClosed)
    }
}

/// A10: a chat whose visitor closed the page ends after the grace period; a reload does not.
@Suite struct VisitorGoneTests {
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
    let visitor = Participant(role: .visitor, id: "v", displayName: "V")
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func events(_ actions: [RouterAction]) -> [WireEvent] {
        actions.compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    func presence(_ state: inout RouterState, visitorId: String = "v", present: Bool, at seconds: Double) -> [RouterAction] {
        state.handle(Envelope(producer: "g", event: .chatVisitorPresence(ChatVisitorPresence(chatId: "c", departmentId: "support", visitorId: visitorId, present: present))),
                     producer: "r", now: start.addingTimeInterval(seconds)) { _ in false }
    }

    func state(goneSeconds: Int = 30) -> RouterState {
        RouterState(openChats: [RoutedChat(id: "c", departmentId: "support", visitor: visitor, status: .assigned, agent: alice, queuedAt: start, activeSince: start)],
                    openDepartments: ["support"], policy: RoutingPolicy(visitorGoneSeconds: goneSeconds))
    }

    @Test func aVisitorGoneForTheGracePeriodEndsTheChatAndTheAgentWrapsUp() {
        var state = state()
        _ = presence(&state, present: false, at: 10)
        _ = presence(&state, present: false, at: 20)   // a second gateway's word keeps the first time
        #expect(state.closeAbandonedChats(now: start.addingTimeInterval(39), producer: "r").isEmpty)
        let closed = events(state.closeAbandonedChats(now: start.addingTimeInterval(40), producer: "r"))
        #expect(closed == [.chatClosed(ChatClosed(chatId: "c", departmentId: "support", closedBy: visitor, reason: .visitorLeft)),
                           .chatWrapUpStarted(ChatWrapUpChanged(chatId: "c", departmentId: "support", agent: alice, wrapUpSeconds: 0))])
        #expect(state.openChats["c"]?.status == .wrapUp)
        #expect(state.closeAbandonedChats(now: start.addingTimeInterval(100), producer: "r").isEmpty, "ended once")
    }

    @Test func aReloadWithinTheGracePeriodKeepsTheChat() {
        var state = state()
        _ = presence(&state, present: false, at: 10)
        _ = presence(&state, present: true, at: 12)
        #expect(state.closeAbandonedChats(now: start.addingTimeInterval(100), producer: "r").isEmpty)
        #expect(state.openChats["c"]?.status == .assigned)
    }

    @Test func someoneElsesWordAndZeroSecondsChangeNothing() {
        var state = state()
        #expect(presence(&state, visitorId: "intruder", present: false, at: 0).isEmpty)
        #expect(state.closeAbandonedChats(now: start.addingTimeInterval(100), producer: "r").isEmpty)
        var never = self.state(goneSeconds: 0)
        _ = presence(&never, present: false, at: 0)
        #expect(never.closeAbandonedChats(now: start.addingTimeInterval(10_000), producer: "r").isEmpty)
    }
}
