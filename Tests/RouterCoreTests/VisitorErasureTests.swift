import ChatWire
import Foundation
@testable import RouterCore
import Testing

/// A6: an erased visitor's chat still in its agent's wrap-up keeps its place in the router
/// but no longer names the visitor (the partition's next snapshot goes to a compacted topic).
@Suite struct VisitorErasureTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let alice = Participant(role: .agent, id: "alice", displayName: "Alice")

    func apply(_ state: inout RouterState, _ event: WireEvent) -> [RouterAction] {
        state.handle(Envelope(producer: "t", event: event), partition: 0, producer: "r", now: now) { _ in false }
    }

    @Test func aChatInWrapUpLosesTheVisitorsNameAndEmail() {
        var state = RouterState(openDepartments: ["support"], policy: RoutingPolicy())
        _ = apply(&state, .agentPresenceChanged(AgentPresenceChanged(agentId: "alice", displayName: "Alice", departmentIds: ["support"],
                                                                     status: .online, available: true)))
        let vera = Participant(role: .visitor, id: "v-1", displayName: "Vera Secret")
        let otto = Participant(role: .visitor, id: "v-2", displayName: "Otto")
        for (chatId, visitor) in [("c-1", vera), ("c-2", otto)] {
            _ = apply(&state, .chatStartRequested(ChatStartRequested(chatId: chatId, departmentId: "support", visitor: visitor, contactEmail: "x@example.com")))
            _ = apply(&state, .chatTakeRequested(ChatTakeRequested(chatId: chatId, departmentId: "support", agent: alice)))
            _ = apply(&state, .chatCloseRequested(ChatCloseRequested(chatId: chatId, departmentId: "support", requestedBy: alice)))
        }
        #expect(state.openChats["c-1"]?.status == .wrapUp)

        let actions = state.forgetVisitor("v-1", partition: 0)
        #expect(actions.count == 1)
        #expect(state.openChats["c-1"]?.visitor.displayName == RouterState.erasedVisitorName)
        #expect(state.openChats["c-1"]?.contactEmail == nil)
        #expect(state.openChats["c-1"]?.status == .wrapUp, "the agent's wrap-up goes on")
        #expect(state.openChats["c-2"]?.visitor.displayName == "Otto" && state.openChats["c-2"]?.contactEmail == "x@example.com")
        #expect(state.chats(in: 0).allSatisfy { !"\($0)".contains("Vera Secret") })
        #expect(state.forgetVisitor("v-1", partition: 5).isEmpty, "another partition's owner has nothing of it")
    }
}
