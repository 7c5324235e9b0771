import ChatWire
import Foundation
@testable import RouterCore
import Testing

/// C9: an agent's phone calls park their active chats and stop new ones; calls go to free
/// agents first.
@Suite struct CallInterruptionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
    let visitor = Participant(role: .visitor, id: "v-1", displayName: "Vera")

    func presence(_ id: String) -> Envelope {
        Envelope(producer: "presence", event: .agentPresenceChanged(AgentPresenceChanged(
            agentId: id, displayName: id.capitalized, departmentIds: ["support"], status: .online, available: true)))
    }

    func apply(_ state: inout RouterState, _ event: WireEvent, at seconds: Double = 0) -> [RouterAction] {
        state.handle(Envelope(producer: "t", event: event), producer: "r", now: now.addingTimeInterval(seconds)) { _ in false }
    }

    func events(_ actions: [RouterAction]) -> [WireEvent] {
        actions.compactMap { if case .publish(let record) = $0 { record.envelope.event } else { nil } }
    }

    /// Alice holds c-1 (assigned) and c-2 (parked by her).
    func aliceWithTwoChats(policy: RoutingPolicy = RoutingPolicy()) -> RouterState {
        var state = RouterState(openDepartments: ["support"], policy: policy)
        _ = state.handle(presence("alice"), producer: "r", now: now) { _ in false }
        for id in ["c-1", "c-2"] {
            _ = apply(&state, .chatStartRequested(ChatStartRequested(chatId: id, departmentId: "support", visitor: Participant(role: .visitor, id: "v-\(id)", displayName: id))))
            _ = apply(&state, .chatTakeRequested(ChatTakeRequested(chatId: id, departmentId: "support", agent: alice)))
        }
        _ = apply(&state, .chatOwnerActionRequested(ChatOwnerActionRequested(chatId: "c-2", departmentId: "support", agent: alice, action: .park)))
        return state
    }

    @Test func aCallParksTheActiveChatsAndItsEndResumesOnlyThose() {
        var state = aliceWithTwoChats()
        let started = apply(&state, .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-1")), at: 60)
        #expect(events(started).count == 1)
        guard case .chatParked(let parked) = events(started).first else { Issue.record("expected c-1 parked"); return }
        #expect(parked.chatId == "c-1" && parked.reason == "call")
        #expect(parked.handlingSeconds == 60)
        #expect(state.openChats["c-1"]?.parkedForCall == true)
        #expect(state.calls["alice"] == ["call-1"])
        // A second report of the same call changes nothing.
        #expect(events(apply(&state, .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-1")), at: 61)).isEmpty)

        let ended = apply(&state, .agentCallEnded(AgentCallChanged(agentId: "alice", callId: "call-1")), at: 120)
        guard case .chatUnparked(let resumed) = events(ended).first else { Issue.record("expected c-1 resumed"); return }
        #expect(resumed.chatId == "c-1" && resumed.reason == "call")
        #expect(events(ended).count == 1, "c-2 was parked by alice herself and stays parked")
        #expect(state.openChats["c-1"]?.status == .assigned && state.openChats["c-2"]?.status == .parked)
        #expect(state.openChats["c-1"]?.handlingSeconds(at: now.addingTimeInterval(130)) == 70, "the call's time is not handling time")
    }

    @Test func aChatTheVisitorEndedDuringTheCallResumesInWrapUp() {
        var state = aliceWithTwoChats()
        _ = apply(&state, .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-1")), at: 60)
        _ = apply(&state, .chatCloseRequested(ChatCloseRequested(chatId: "c-1", departmentId: "support", requestedBy: Participant(role: .visitor, id: "v-c-1", displayName: "c-1"))), at: 90)
        #expect(state.openChats["c-1"]?.status == .wrapUp)
        #expect(state.openChats["c-1"]?.wrapUpSince == nil, "wrap-up waits for the call")
        let ended = apply(&state, .agentCallEnded(AgentCallChanged(agentId: "alice", callId: "call-1")), at: 120)
        #expect(events(ended).contains { if case .chatUnparked(let change) = $0 { change.chatId == "c-1" } else { false } })
        #expect(state.openChats["c-1"]?.wrapUpSince == now.addingTimeInterval(120))
    }

    @Test func anAgentOnACallGetsNoChatsUntilTheLastCallEnds() {
        var state = RouterState(openDepartments: ["support"], policy: RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 3))
        _ = state.handle(presence("alice"), producer: "r", now: now) { _ in false }
        _ = apply(&state, .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-1")))
        _ = apply(&state, .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-2")))
        _ = apply(&state, .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor)))
        #expect(state.openChats["c-1"]?.status == .queued)
        _ = apply(&state, .agentCallEnded(AgentCallChanged(agentId: "alice", callId: "call-1")))
        #expect(state.openChats["c-1"]?.status == .queued, "still on call-2")
        _ = apply(&state, .agentCallEnded(AgentCallChanged(agentId: "alice", callId: "call-2")))
        #expect(state.openChats["c-1"]?.agent?.id == "alice", "assigned as soon as she is free")
    }

    @Test func aCallGoesToABusyAgentOnlyIfNoAgentIsFree() {
        var state = aliceWithTwoChats()
        _ = state.handle(presence("bob"), producer: "r", now: now) { _ in false }
        func route(_ callId: String) -> CallRouted? {
            let actions = apply(&state, .callRoutingRequested(CallRoutingRequested(callId: callId, departmentId: "support")))
            guard case .callRouted(let routed) = events(actions).first else { return nil }
            return routed
        }
        let first = route("call-a")
        #expect(first?.agentId == "bob" && first?.rule == "free_agent")
        #expect(first?.candidates == [.init(agentId: "bob", activeChats: 0), .init(agentId: "alice", activeChats: 1)])
        _ = apply(&state, .agentCallStarted(AgentCallChanged(agentId: "bob", callId: "call-a")))
        let second = route("call-b")
        #expect(second?.agentId == "alice" && second?.rule == "busy_agent", "bob is on a call; alice has a chat but takes calls")
        _ = apply(&state, .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-b")))
        let third = route("call-c")
        #expect(third?.agentId == nil && third?.rule == "no_agent")
    }

    @Test func anAgentInWrapUpGetsNoCallUntilItIsDone() {
        var state = aliceWithTwoChats()
        _ = apply(&state, .chatCloseRequested(ChatCloseRequested(chatId: "c-1", departmentId: "support", requestedBy: alice)))
        #expect(state.openChats["c-1"]?.status == .wrapUp)
        func route(_ callId: String) -> CallRouted? {
            let actions = apply(&state, .callRoutingRequested(CallRoutingRequested(callId: callId, departmentId: "support")))
            guard case .callRouted(let routed) = events(actions).first else { return nil }
            return routed
        }
        #expect(route("call-x")?.agentId == nil, "alice is in wrap-up")
        _ = apply(&state, .chatOwnerActionRequested(ChatOwnerActionRequested(chatId: "c-1", departmentId: "support", agent: alice, action: .finishWrapUp)))
        #expect(route("call-y")?.agentId == "alice")
    }
}
