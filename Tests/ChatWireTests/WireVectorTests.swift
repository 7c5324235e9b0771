@testable import ChatWire
import Foundation
import Testing

/// One sample of every event type. The files in Vectors/ are the documented form
/// (docs/wire-format.md); a change to either side fails here.
enum Samples {
    static let time = WireTime.parse("2026-11-23T10:15:30.250Z")!
    static let visitor = Participant(role: .visitor, id: "v-7f3c", displayName: "Grete Müller")
    static let agent = Participant(role: .agent, id: "alice", displayName: "Alice Adams")
    static let preChat = PreChatAnswers(answers: [.init(id: "company", label: "Firma", value: "Bäckerei Müller")], category: "Billing")

    static let events: [WireEvent] = [
        .chatStartRequested(ChatStartRequested(chatId: "c-1", departmentId: "support", visitor: visitor, preChat: preChat, contact: "Guest-42")),
        .chatTakeRequested(ChatTakeRequested(chatId: "c-1", departmentId: "support", agent: agent)),
        .chatCloseRequested(ChatCloseRequested(chatId: "c-1", departmentId: "support", requestedBy: agent)),
        .chatOwnerActionRequested(ChatOwnerActionRequested(chatId: "c-1", departmentId: "support", agent: agent, action: .transfer, toDepartmentId: "sales")),
        .chatTransferIn(ChatTransferIn(chatId: "c-1", departmentId: "sales", fromDepartmentId: "support", visitor: visitor, queuedAt: time)),
        .chatParked(ChatParkChanged(chatId: "c-1", departmentId: "support", agent: agent, handlingSeconds: 95.5)),
        .chatUnparked(ChatParkChanged(chatId: "c-1", departmentId: "support", agent: agent, handlingSeconds: 95.5)),
        .chatTransferred(ChatTransferred(chatId: "c-1", fromDepartmentId: "support", toDepartmentId: "sales", previousAgent: agent, toAgent: nil)),
        .chatAgentInvited(ChatAgentInvited(chatId: "c-1", departmentId: "support", agent: Participant(role: .agent, id: "bob", displayName: "Bob Berg"), invitedBy: agent)),
        .chatOffered(ChatOffered(chatId: "c-1", departmentId: "support", agent: agent, expiresAt: time.addingTimeInterval(30), decision: ChatAssigned.Decision(
            rule: "least_loaded", maxChatsPerAgent: 3, candidates: [.init(agentId: "alice", activeChats: 1)]))),
        .chatOfferWithdrawn(ChatOfferWithdrawn(chatId: "c-1", departmentId: "support", agent: agent, reason: .timeout)),
        .chatWrapUpStarted(ChatWrapUpChanged(chatId: "c-1", departmentId: "support", agent: agent, wrapUpSeconds: 0)),
        .chatWrapUpFinished(ChatWrapUpChanged(chatId: "c-1", departmentId: "support", agent: agent, wrapUpSeconds: 42.5)),
        .chatQueued(ChatQueued(chatId: "c-1", departmentId: "support", visitor: visitor, queuedAt: time, preChat: preChat, contact: "Guest-42")),
        .chatAssigned(ChatAssigned(chatId: "c-1", departmentId: "support", agent: agent, reason: .automatic, decision: ChatAssigned.Decision(
            rule: "least_loaded", maxChatsPerAgent: 3,
            candidates: [.init(agentId: "alice", activeChats: 0), .init(agentId: "bob", activeChats: 2)]))),
        .chatClosed(ChatClosed(chatId: "c-1", departmentId: "support", closedBy: agent)),
        .chatRequeued(ChatRequeued(chatId: "c-1", departmentId: "support", previousAgent: agent, reason: .agentOffline)),
        .requestRejected(RequestRejected(chatId: "c-2", code: .alreadyOpen, message: "You already have an open chat with this department.", existingChatId: "c-1")),
        .messagePosted(MessagePosted(chatId: "c-1", messageId: "m-1", sender: visitor, text: "Grüß Gott! 👋")),
        .agentConnected(AgentConnected(agentId: "alice", connectionId: "k-1", gatewayId: "gateway-1")),
        .agentDisconnected(AgentDisconnected(agentId: "alice", connectionId: "k-1", gatewayId: "gateway-1")),
        .agentAvailabilitySet(AgentAvailabilitySet(agentId: "alice", available: false)),
        .gatewayStarted(GatewayStarted(gatewayId: "gateway-1")),
        .agentPresenceChanged(AgentPresenceChanged(agentId: "alice", displayName: "Alice Adams", departmentIds: ["support", "sales"], status: .online, available: true)),
        .departmentAvailabilityChanged(DepartmentAvailabilityChanged(departmentId: "support", displayName: "Customer Support", open: true, availableAgents: 1)),
        .transcriptRequested(TranscriptRequested(chatId: "c-1", replyTo: "gateway-1")),
        .transcriptAnswered(TranscriptAnswered(chatId: "c-1", replyTo: "gateway-1", transcript: Transcript(
            chatId: "c-1", departmentId: "support", visitor: visitor, agents: [agent], queuedAt: time, closedAt: time.addingTimeInterval(300),
            messages: [Transcript.Message(messageId: "m-1", sender: visitor, text: "Grüß Gott! 👋", sentAt: time.addingTimeInterval(5))]))),
        .routerPartitionSnapshot(RouterPartitionSnapshot(partition: 4, epoch: 1_795_428_930_250, sequence: 17, nextCommandOffset: 912, chats: [
            {
                var chat = RoutedChat(id: "c-1", departmentId: "support", visitor: visitor, status: .assigned, agent: agent, queuedAt: time,
                                      handledSeconds: 12.5, activeSince: time.addingTimeInterval(40))
                chat.passedBy = ["bob"]
                chat.partition = 4
                return chat
            }(),
        ], published: [RouterPartitionSnapshot.PublishedRecord(WireRecord(topic: .chatConversations, key: "c-1", envelope: Envelope(
            id: "e-assigned", occurredAt: time.addingTimeInterval(40), correlationID: "r-1", causationID: "e-take", producer: "router-1",
            event: .chatAssigned(ChatAssigned(chatId: "c-1", departmentId: "support", agent: agent, reason: .manualPick)))))],
            answeredProposals: ["e-proposal-7"],
            proposals: [RouterPartitionSnapshot.AssignmentProposal(id: "e-proposal-9", chatId: "c-9", agentId: "bob", sentAt: time.addingTimeInterval(41))])),
        .agentQueuesSet(AgentQueuesSet(agentId: "alice", departmentIds: ["support"])),
        .chatTyping(ChatTyping(chatId: "c-1", sender: visitor, typing: true)),
        .accountRegistrationRequested(AccountRegistrationRequested(agentId: "carol", displayName: "Carol Cho", passwordHash: "$2b$11$abcdefghijklmnopqrstuu5WmT3c0Xc3f1ukK8O2uKdbpRBVT6yxW",
                                                                   registrationId: "r-1")),
        .accountUpdateRequested(AccountUpdateRequested(agentId: "carol", actorId: "admin", status: .active, roles: [.agent, .supervisor],
                                                       departmentIds: ["support"], maxChats: 3)),
        .sessionRevokeRequested(SessionRevokeRequested(agentId: "carol", actorId: "carol", sessionId: "s-1",
                                                       expiresAt: Date(timeIntervalSince1970: 1_800_043_200))),
        .agentActive(AgentActive(agentId: "carol")),
        .accountPasswordSet(AccountPasswordSet(agentId: "carol", passwordHash: "$2b$11$abcdefghijklmnopqrstuu5WmT3c0Xc3f1ukK8O2uKdbpRBVT6yxW")),
        .chatVisitorPresence(ChatVisitorPresence(chatId: "c-1", departmentId: "support", visitorId: "v-7f3c", present: false)),
        .archiveSearchRequested(ArchiveSearchRequested(
            replyTo: "gateway-1", partition: 3,
            filter: ArchiveFilter(departmentIds: ["support"], agentId: "alice", name: "grete", from: time, to: time.addingTimeInterval(86_400), closedOnly: true),
            after: ArchiveCursor(queuedAt: time, chatId: "c-0"), newestFirst: true, limit: 50, includeTranscripts: false, countTotal: true)),
        .archiveSearchAnswered(ArchiveSearchAnswered(replyTo: "gateway-1", partition: 3, chats: [
            ArchivedChat(chatId: "c-1", departmentId: "support", visitor: visitor, contact: "Guest-42", contactEmail: nil, agents: [agent], queuedAt: time,
                         firstAssignedAt: time.addingTimeInterval(20), closedAt: time.addingTimeInterval(300), closedBy: agent, closedReason: nil, messageCount: 1, preChat: preChat,
                         story: [ArchiveStoryEntry(type: "chat.assigned", at: time.addingTimeInterval(20), agent: agent, departmentId: "support", detail: "manual_pick")],
                         messages: [Transcript.Message(messageId: "m-1", sender: visitor, text: "Grüß Gott! 👋", sentAt: time.addingTimeInterval(5))]),
        ], next: ArchiveCursor(queuedAt: time, chatId: "c-1"), total: 7)),
        .archiveDeleteRequested(ArchiveDeleteRequested(replyTo: "gateway-1", chatId: "c-1", partition: nil, departmentIds: nil, requestedBy: agent)),
        .archiveDeleteAnswered(ArchiveDeleteAnswered(replyTo: "gateway-1", deletedChatIds: ["c-1"], openChatIds: [])),
        .chatDeleted(ChatDeleted(chatId: "c-1", departmentId: "support", reason: .retention, deletedBy: nil)),
        .visitorErasureRequested(VisitorErasureRequested(visitorId: "v-7f3c")),
        .visitorRegistered(VisitorRegistered(visitorId: "v-7f3c", key: VisitorKey(bytes: Data((0..<32).map { UInt8($0) })))),
        .departmentSettingsUpdated(DepartmentSettingsUpdated(
            departmentId: "support", retentionDays: 90,
            preChatForm: PreChatForm(fields: [.init(id: "company", label: "Firma", kind: .text, required: true),
                                              .init(id: "product", label: "Product", kind: .select, required: false, options: ["Bread", "Cake"])],
                                     categories: ["Billing", "Technical"], categoryRequired: true),
            updatedBy: agent)),
        .transcriptEmailRequested(TranscriptEmailRequested(replyTo: "gateway-1", chatId: "c-1", email: "grete@example.org", timeZone: "Europe/Berlin",
                                                           departmentName: "Customer Support", requestedBy: visitor)),
        .ticketRequested(TicketRequested(replyTo: "gateway-1", chatId: "c-1", note: "Refund asked", requestedBy: agent)),
        .deliveryQueued(DeliveryQueued(replyTo: "gateway-1", chatId: "c-1", deliveryId: "d-1", refusal: nil)),
        .accountUpdated(AccountUpdated(agentId: "carol", displayName: "Carol Cho", status: .active, roles: [.agent, .supervisor], departmentIds: ["support"],
                                       maxChats: 3, awayAfterMinutes: 5, passwordHash: "$2b$11$abcdefghijklmnopqrstuu5WmT3c0Xc3f1ukK8O2uKdbpRBVT6yxW",
                                       registrationId: "r-1", registeredAt: Date(timeIntervalSince1970: 1_800_000_000),
                                       revokedSessions: [RevokedSession(sessionId: "s-1", expiresAt: Date(timeIntervalSince1970: 1_800_043_200))],
                                       updatedBy: "admin")),
        .agentCallStarted(AgentCallChanged(agentId: "alice", callId: "call-7")),
        .agentCallEnded(AgentCallChanged(agentId: "alice", callId: "call-7")),
        .callRoutingRequested(CallRoutingRequested(callId: "call-7", departmentId: "support")),
        .callRouted(CallRouted(callId: "call-7", departmentId: "support", agentId: "alice", rule: "busy_agent",
                               candidates: [.init(agentId: "alice", activeChats: 1)])),
        .chatAssignmentProposed(ChatAssignmentProposed(chatId: "c-9", departmentId: "sales", agent: Participant(role: .agent, id: "bob", displayName: "Bob Berg"),
                                                       decision: ChatAssigned.Decision(rule: "least_loaded", maxChatsPerAgent: 3,
                                                                                       candidates: [.init(agentId: "bob", activeChats: 1)]))),
    ]

    static func envelope(_ event: WireEvent) -> Envelope {
        Envelope(id: "e-\(event.type.rawValue)", occurredAt: time, correlationID: "r-1", causationID: "e-cause", producer: "gateway-1", event: event)
    }
}

@Suite struct WireVectorTests {
    static let vectors = Bundle.module.url(forResource: "Vectors", withExtension: nil)!

    @Test func everyEventTypeHasASample() {
        #expect(Set(Samples.events.map(\.type)) == Set(EventType.allCases))
    }

    @Test(arguments: Samples.events)
    func goldenVectorMatches(_ event: WireEvent) throws {
        let expected = Samples.envelope(event)
        let file = Self.vectors.appendingPathComponent("\(event.type.rawValue).json")
        if ProcessInfo.processInfo.environment["CHAT_RECORD_VECTORS"] == "1" {
            let pretty = try JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: Data(WireCodec.encode(expected))),
                                                    options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/\(event.type.rawValue).json")
            try (pretty + Data("\n".utf8)).write(to: source)
            Issue.record("recorded \(source.path); run again without CHAT_RECORD_VECTORS")
            return
        }
        let bytes = try Data(contentsOf: file)
        #expect(try WireCodec.decode(Array(bytes)) == expected, "the documented JSON reads as the sample")
        let encoded = try JSONSerialization.jsonObject(with: Data(WireCodec.encode(expected))) as? NSDictionary
        let documented = try JSONSerialization.jsonObject(with: bytes) as? NSDictionary
        #expect(encoded == documented, "the sample writes as the documented JSON")
    }

    /// Records written before pre-chat forms existed still read, with no form and no answers.
    @Test func recordsFromBeforePreChatFormsStillRead() throws {
        let settings = #"""
        {"id":"e-8","type":"department.settings_updated","schemaVersion":1,"occurredAt":"2026-11-23T10:15:30.250Z","producer":"gateway-1",
         "payload":{"departmentId":"support","retentionDays":90,"updatedBy":{"role":"agent","id":"alice","displayName":"Alice Adams"}}}
        """#
        guard case .departmentSettingsUpdated(let decoded) = try WireCodec.decode(Array(settings.utf8)).event else {
            Issue.record("not a settings record")
            return
        }
        #expect(decoded.preChatForm == nil && decoded.retentionDays == 90)
        let queued = #"""
        {"id":"e-9","type":"chat.queued","schemaVersion":1,"occurredAt":"2026-11-23T10:15:30.250Z","producer":"router-1",
         "payload":{"chatId":"c-1","departmentId":"support","queuedAt":"2026-11-23T10:15:30.250Z",
                    "visitor":{"role":"visitor","id":"v-7f3c","displayName":"Grete"}}}
        """#
        guard case .chatQueued(let chat) = try WireCodec.decode(Array(queued.utf8)).event else {
            Issue.record("not a queued record")
            return
        }
        #expect(chat.preChat == nil && chat.chatId == "c-1")
    }

    /// Times are written rounded to the millisecond and read back to the same millisecond,
    /// so a time that makes a round trip (an archive cursor) still matches what it came from.
    @Test func timesRoundTripAtMillisecondPrecision() throws {
        #expect(WireTime.format(Date(timeIntervalSince1970: 1_795_000_000.122_999_9)) == "2026-11-18T11:06:40.123Z")
        #expect(WireTime.format(Date(timeIntervalSince1970: 1_795_000_000.999_7)) == "2026-11-18T11:06:41.000Z")
        #expect(WireTime.format(Date(timeIntervalSince1970: -0.25)) == "1969-12-31T23:59:59.750Z")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: 1_700_000_000...1_900_000_000, using: &generator))
            let text = WireTime.format(date)
            let back = try #require(WireTime.parse(text))
            #expect(WireTime.format(back) == text)
            #expect(WireTime.wirePrecision(back) == WireTime.wirePrecision(date), "\(date.timeIntervalSince1970) → \(text)")
        }
    }

    @Test func unknownFieldsAreIgnored() throws {
        let text = #"""
        {"id":"e-9","type":"agent.availability_set","schemaVersion":1,"occurredAt":"2026-11-23T10:15:30.250Z",
         "producer":"gateway-7","addedLater":{"x":1},
         "payload":{"agentId":"bob","available":true,"reason":"back from lunch"}}
        """#
        let envelope = try WireCodec.decode(Array(text.utf8))
        #expect(envelope.event == .agentAvailabilitySet(AgentAvailabilitySet(agentId: "bob", available: true)))
        #expect(envelope.correlationID == nil)
    }

    @Test func unreadableRecordsGiveStableErrorCodes() {
        func code(_ text: String) -> WireError.Code? {
            do {
                _ = try WireCodec.decode(Array(text.utf8))
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code("not json") == .malformed)
        #expect(code("{}") == .malformed)
        #expect(code(#"{"id":"1","type":"chat.teleported","schemaVersion":1,"occurredAt":"2026-11-23T10:15:30Z","producer":"x","payload":{}}"#) == .unknownType)
        #expect(code(#"{"id":"1","type":"chat.closed","schemaVersion":2,"occurredAt":"2026-11-23T10:15:30Z","producer":"x","payload":{}}"#) == .unsupportedVersion)
        #expect(code(#"{"id":"1","type":"chat.closed","schemaVersion":1,"occurredAt":"yesterday","producer":"x","payload":{}}"#) == .malformed)
        #expect(code(#"{"id":"1","type":"chat.closed","schemaVersion":1,"occurredAt":"2026-11-23T10:15:30Z","producer":"x","payload":{"chatId":"c"}}"#) == .malformed)
    }

    @Test func timesKeepMilliseconds() throws {
        let envelope = Samples.envelope(.gatewayStarted(GatewayStarted(gatewayId: "g")))
        let text = String(decoding: WireCodec.encode(envelope), as: UTF8.self)
        #expect(text.contains(#""occurredAt":"2026-11-23T10:15:30.250Z""#))
        #expect(try WireCodec.decode(WireCodec.encode(envelope)).occurredAt == Samples.time)
    }

    @Test func identifiersAreChecked() {
        #expect(WireID.isValid("c-1"))
        #expect(WireID.isValid(WireID.make()))
        #expect(!WireID.isValid(""))
        #expect(!WireID.isValid("a b"))
        #expect(!WireID.isValid("<script>"))
        #expect(!WireID.isValid(String(repeating: "a", count: 129)))
    }

    @Test func topicCatalogIsConsistent() {
        #expect(Set(Topic.allCases.map(\.name)).count == Topic.allCases.count)
        #expect(Topic.allCases.allSatisfy { $0.partitions > 0 })
        #expect(Topic.presenceAgents.cleanupPolicy == "compact")
    }
}

extension WireEvent: CustomTestStringConvertible {
    public var testDescription: String { type.rawValue }
}
