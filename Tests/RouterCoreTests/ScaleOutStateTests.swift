import ChatWire
import Foundation
@testable import RouterCore
import Testing

/// Partition ownership, changelog snapshots and assignment proposals between instances.
@Suite struct ScaleOutStateTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 1)

    func presence(_ id: String, online: Bool = true, departments: [String] = ["support", "sales"]) -> Envelope {
        Envelope(producer: "presence", event: .agentPresenceChanged(AgentPresenceChanged(
            agentId: id, displayName: id.capitalized, departmentIds: departments, status: online ? .online : .offline, available: online)))
    }

    func chat(_ id: String, department: String, partition: Int32, minute: Double, status: RoutedChat.Status = .queued, agent: String? = nil) -> RoutedChat {
        var chat = RoutedChat(id: id, departmentId: department, visitor: Participant(role: .visitor, id: "v-\(id)", displayName: id),
                              status: status, agent: agent.map { Participant(role: .agent, id: $0, displayName: $0.capitalized) },
                              queuedAt: now.addingTimeInterval(minute * 60))
        chat.partition = partition
        return chat
    }

    func snapshot(_ partition: Int32, _ chats: [RoutedChat], answered: [String] = []) -> RouterPartitionSnapshot {
        RouterPartitionSnapshot(partition: partition, epoch: 1, sequence: 1, nextCommandOffset: 0, chats: chats, published: [], answeredProposals: answered)
    }

    func events(_ actions: [RouterAction]) -> [WireRecord] {
        actions.compactMap { if case .publish(let record) = $0 { record } else { nil } }
    }

    /// An instance that owns exactly the home partition of `agent` (and not `other`).
    func instance(homing agent: String, notHoming other: String? = nil) -> (RouterState, Int32) {
        var state = RouterState(openDepartments: ["support", "sales"], policy: policy)
        let home = state.homePartition(of: agent)
        state.adopt(partition: home, chats: [])
        if let other { #expect(state.homePartition(of: other) != home, "pick agents with different homes") }
        return (state, home)
    }

    @Test func homesAreStableAndSpreadOverThePartitions() {
        let state = RouterState()
        let homes = Set((0..<200).map { state.homePartition(of: "agent-\($0)") })
        #expect(homes.count == Topic.chatCommands.partitions)
        #expect(state.homePartition(of: "alice") == RouterState().homePartition(of: "alice"))
    }

    @Test func releasedPartitionsAreForgottenButStillCountTowardLoads() {
        var state = RouterState(openDepartments: ["support"], policy: RoutingPolicy(assignment: .manual, maxChatsPerAgent: 1))
        state.adopt(partition: 3, chats: [chat("c-1", department: "support", partition: 3, minute: 0, status: .assigned, agent: "alice"),
                                          chat("c-2", department: "support", partition: 3, minute: 1)])
        state.adopt(partition: 5, chats: [chat("c-3", department: "support", partition: 5, minute: 2)])
        #expect(state.chats(in: 3).map(\.id) == ["c-1", "c-2"])
        state.release(partitions: [3])
        #expect(state.openChats.keys.sorted() == ["c-3"])
        #expect(state.ownedPartitions == [5])
        #expect(state.load(of: "alice") == 1, "until the next owner reports, the last known state counts")
        // A take for a released chat is no longer decided here.
        let take = state.handle(Envelope(producer: "g", event: .chatTakeRequested(ChatTakeRequested(
            chatId: "c-2", departmentId: "support", agent: Participant(role: .agent, id: "bob", displayName: "Bob")))), partition: 3, producer: "r", now: now) { _ in false }
        guard case .requestRejected(let rejected) = events(take).first?.envelope.event else { Issue.record("expected a rejection"); return }
        #expect(rejected.code == .unknownChat)
    }

    @Test func aWaitingChatOfAnotherPartitionIsProposedToAnAgentHomedHereOnce() {
        var (state, home) = instance(homing: "alice")
        _ = state.handle(presence("alice"), producer: "r", now: now) { _ in false }
        let remote: Int32 = (home + 1) % state.commandPartitions
        let actions = state.noteRemote(snapshot(remote, [chat("c-9", department: "sales", partition: remote, minute: 0),
                                                          chat("c-10", department: "sales", partition: remote, minute: 1)]), producer: "r", now: now)
        let proposals = events(actions)
        #expect(proposals.count == 1, "alice has room for one chat")
        #expect(proposals.first?.topic == .chatCommands)
        #expect(proposals.first?.key == "sales")
        guard case .chatAssignmentProposed(let proposal) = proposals.first?.envelope.event else { Issue.record("expected a proposal"); return }
        #expect(proposal.chatId == "c-9" && proposal.agent.id == "alice")
        #expect(state.load(of: "alice") == 1, "the proposal holds her place")
        // The same snapshot again proposes nothing more.
        #expect(events(state.noteRemote(snapshot(remote, [chat("c-9", department: "sales", partition: remote, minute: 0)]), producer: "r", now: now)).isEmpty)

        // The owner answers: c-9 is hers now; the proposal stops counting, the chat counts.
        let id = proposals[0].envelope.id
        _ = state.noteRemote(snapshot(remote, [chat("c-9", department: "sales", partition: remote, minute: 0, status: .assigned, agent: "alice")], answered: [id]),
                             producer: "r", now: now)
        #expect(state.proposals.isEmpty)
        #expect(state.load(of: "alice") == 1)
        #expect(state.proposals(homedIn: home).isEmpty)
    }

    @Test func agentsHomedElsewhereGetNoAutomaticChatsFromHere() {
        var (state, _) = instance(homing: "alice", notHoming: "bob")
        _ = state.handle(presence("bob"), producer: "r", now: now) { _ in false }
        let mine = state.ownedPartitions.first!
        let actions = state.handle(Envelope(producer: "g", event: .chatStartRequested(ChatStartRequested(
            chatId: "c-1", departmentId: "support", visitor: Participant(role: .visitor, id: "v-1", displayName: "V")))), partition: mine, producer: "r", now: now) { _ in false }
        #expect(!events(actions).contains { if case .chatAssigned = $0.envelope.event { true } else { false } })
        #expect(state.openChats["c-1"]?.status == .queued, "bob's home instance will propose him")
    }

    @Test func theOwnerTakesAProposalOnceAndAnswersEveryProposal() {
        var state = RouterState(openDepartments: ["sales"], policy: RoutingPolicy(assignment: .manual))
        state.adopt(partition: 7, chats: [chat("c-9", department: "sales", partition: 7, minute: 0)])
        _ = state.handle(presence("alice"), producer: "r", now: now) { _ in false }
        let alice = Participant(role: .agent, id: "alice", displayName: "Alice")
        let decision = ChatAssigned.Decision(rule: "least_loaded", maxChatsPerAgent: 1, candidates: [.init(agentId: "alice", activeChats: 0)])
        let first = Envelope(producer: "router-2", event: .chatAssignmentProposed(ChatAssignmentProposed(chatId: "c-9", departmentId: "sales", agent: alice, decision: decision)))
        let accepted = state.handle(first, partition: 7, producer: "r", now: now) { _ in false }
        #expect(accepted.contains(.proposalAnswered(first.id)))
        guard case .chatAssigned(let assigned) = events(accepted).first?.envelope.event else { Issue.record("expected an assignment"); return }
        #expect(assigned.agent == alice && assigned.reason == .automatic && assigned.decision == decision)
        #expect(events(accepted).first?.envelope.causationID == first.id)

        let bob = Participant(role: .agent, id: "bob", displayName: "Bob")
        let late = Envelope(producer: "router-3", event: .chatAssignmentProposed(ChatAssignmentProposed(chatId: "c-9", departmentId: "sales", agent: bob, decision: decision)))
        let refused = state.handle(late, partition: 7, producer: "r", now: now) { _ in false }
        #expect(refused == [.proposalAnswered(late.id)], "answered, nothing changed, nothing published")
        #expect(state.openChats["c-9"]?.agent == alice)
    }

    @Test func aNewOwnerReturnsChatsOfAgentsWhoWentOfflineMeanwhile() {
        var state = RouterState(openDepartments: ["support"], policy: RoutingPolicy(assignment: .manual))
        _ = state.handle(presence("alice", online: false), producer: "r", now: now) { _ in false }
        state.adopt(partition: 2, chats: [chat("c-1", department: "support", partition: 2, minute: 0, status: .assigned, agent: "alice")])
        let actions = state.reconcile(producer: "r", now: now)
        guard case .chatRequeued(let requeued) = events(actions).first?.envelope.event else { Issue.record("expected a requeue"); return }
        #expect(requeued.reason == .agentOffline)
        #expect(state.openChats["c-1"]?.status == .queued)
    }

    @Test func snapshotsOrderByEpochThenSequence() {
        let older = RouterPartitionSnapshot(partition: 1, epoch: 5, sequence: 90, nextCommandOffset: 0, chats: [], published: [])
        #expect(older.isNewer(than: (epoch: 5, sequence: 89)))
        #expect(!older.isNewer(than: (epoch: 6, sequence: 0)), "a later owner's epoch wins over any sequence")
    }
}

/// B5 queue log-in and the per-agent and per-department maximums.
@Suite struct QueuesAndMaximumsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func presence(_ id: String, queues: [String]? = nil, maxChats: Int? = nil) -> Envelope {
        Envelope(producer: "presence", event: .agentPresenceChanged(AgentPresenceChanged(
            agentId: id, displayName: id.capitalized, departmentIds: ["support", "sales"], status: .online, available: true, queues: queues, maxChats: maxChats)))
    }

    func start(_ state: inout RouterState, _ id: String, in department: String = "support", minute: Double = 0) {
        _ = state.handle(Envelope(producer: "g", event: .chatStartRequested(ChatStartRequested(
            chatId: id, departmentId: department, visitor: Participant(role: .visitor, id: "v-\(id)", displayName: id)))),
            producer: "r", now: now.addingTimeInterval(minute * 60)) { _ in false }
    }

    @Test func onlyAgentsLoggedInToAQueueGetItsChats() {
        var state = RouterState(openDepartments: ["support", "sales"], policy: RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 3))
        _ = state.handle(presence("alice", queues: ["sales"]), producer: "r", now: now) { _ in false }
        start(&state, "c-1", in: "support")
        #expect(state.openChats["c-1"]?.status == .queued, "alice is logged out of support")
        start(&state, "c-2", in: "sales", minute: 1)
        #expect(state.openChats["c-2"]?.agent?.id == "alice")
        _ = state.handle(presence("alice"), producer: "r", now: now) { _ in false }
        #expect(state.openChats["c-1"]?.agent?.id == "alice", "logged in again: the waiting chat goes to her")
    }

    @Test func anAgentsOwnMaximumWinsOverTheDepartmentsWhichWinsOverThePolicys() {
        var state = RouterState(openDepartments: ["support", "sales"], policy: RoutingPolicy(assignment: .automatic, maxChatsPerAgent: 3))
        _ = state.handle(Envelope(producer: "presence", event: .departmentAvailabilityChanged(DepartmentAvailabilityChanged(
            departmentId: "support", displayName: "Support", open: true, availableAgents: 1, maxChatsPerAgent: 1))), producer: "r", now: now) { _ in false }
        _ = state.handle(presence("bob"), producer: "r", now: now) { _ in false }
        start(&state, "c-1", in: "support")
        start(&state, "c-2", in: "support", minute: 1)
        #expect(state.openChats["c-1"]?.agent?.id == "bob")
        #expect(state.openChats["c-2"]?.status == .queued, "support gives an agent one chat at a time")
        start(&state, "c-3", in: "sales", minute: 2)
        #expect(state.openChats["c-3"]?.agent?.id == "bob", "sales has no maximum of its own: the policy's 3")

        _ = state.handle(presence("bob", maxChats: 5), producer: "r", now: now) { _ in false }
        #expect(state.openChats["c-2"]?.agent?.id == "bob", "bob's own maximum of 5 counts in every department")
        #expect(state.maximum(for: state.agents["bob"]!, in: "support") == 5)
    }
}
