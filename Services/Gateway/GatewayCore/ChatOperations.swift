import ChatKafka
import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Hummingbird
import HummingbirdBcrypt

/// What visitors and agents can do, shared by the HTTP API and the WebSocket protocol.
/// Changes are requests to other services over Kafka; reads come from the gateway's store.
final class ChatOperations: Sendable {
    let store: ServiceStore
    let producer: KafkaProducer
    let replies: PendingReplies
    let configuration: GatewayConfiguration
    let messageLimiter: RateLimiter
    /// At most one "typing" signal per sender and chat every 2 s.
    let typingThrottle: TypingThrottle
    let viewCommits: ViewCommits
    let presence: PresenceReporter
    let signer: AccessTokenSigner
    let visitors: VisitorPresenceReporter
    /// Failed sign-ins per login name.
    let loginThrottle: LoginThrottle
    /// At most one `agent.active` per agent every 20 s.
    let activityThrottle: TypingThrottle
    /// A valid bcrypt hash of a random secret, at the configured cost: signing in with an
    /// unknown name costs as much as with a wrong password.
    let decoyHash: String
    let archive: ArchiveClient
    /// Seals what the gateway writes about a visitor (A6).
    let keyring: VisitorKeyring

    init(store: ServiceStore, producer: KafkaProducer, replies: PendingReplies, viewCommits: ViewCommits, presence: PresenceReporter,
         signer: AccessTokenSigner, keyring: VisitorKeyring, configuration: GatewayConfiguration) {
        self.keyring = keyring
        self.presence = presence
        self.signer = signer
        visitors = VisitorPresenceReporter(producer: producer, gatewayID: configuration.common.instanceID)
        loginThrottle = LoginThrottle(limit: configuration.loginFailuresAllowed, window: TimeInterval(configuration.loginLockoutSeconds))
        activityThrottle = TypingThrottle(interval: 20)
        decoyHash = Bcrypt.hash(WireID.make(), cost: UInt8(configuration.bcryptCost))
        self.store = store
        self.producer = producer
        self.replies = replies
        self.viewCommits = viewCommits
        self.configuration = configuration
        messageLimiter = RateLimiter(perMinute: configuration.messagesPerMinute, burst: configuration.messageBurst)
        typingThrottle = TypingThrottle(interval: 2)
        archive = ArchiveClient(producer: producer, replies: replies, gatewayID: configuration.common.instanceID,
                                timeout: .milliseconds(configuration.replyTimeoutMilliseconds))
    }

    var gatewayID: String { configuration.common.instanceID }

    /// A new event from this gateway, correlated with the request or frame being served.
    func envelope(_ event: WireEvent) -> Envelope {
        Envelope(correlationID: RequestCorrelation.id, producer: gatewayID, event: event)
    }

    // MARK: Reads

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await store.database.read(body)
    }

    /// The chat, if the caller may see it: a visitor their own, an agent those of their departments.
    /// A chat this gateway's view does not hold yet (started through another gateway an instant
    /// ago) is waited for, up to the view catch-up bound, before the answer is "not found".
    func visibleChat(_ chatId: String, to caller: Caller) async throws -> ChatView {
        guard WireID.isValid(chatId) else { throw APIError.chatNotFound }
        let found = try await readOnceInView { db in
            try GatewayStore.chat(db, id: chatId).map { ($0, caller.role == .agent ? try GatewayStore.agent(db, id: caller.id) : nil) }
        }
        guard let (chat, agent) = found else { throw APIError.chatNotFound }
        switch caller.role {
        case .visitor where chat.visitor.id == caller.id: return chat.seenByVisitor
        case .agent where agent?.departmentIds.contains(chat.departmentId) == true || chat.agentIds.contains(caller.id) || caller.has(.admin): return chat
        default: throw APIError.chatNotFound
        }
    }

    /// Reads until `body` finds something, waiting for the view's next commits in between,
    /// up to the view catch-up bound; nil if it never does. For what this or another gateway
    /// produced a moment ago and the view may not hold yet.
    func readOnceInView<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T?) async throws -> T? {
        try await readUntilInView(body, until: { _ in true }, within: .milliseconds(configuration.viewCatchUpMilliseconds))
    }

    /// Reads until `body` finds a value `until` accepts, waiting for the view's commits in
    /// between, up to `within` (default: the reply timeout, for the outcome of a command).
    func readUntilInView<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T?, until accepts: @Sendable @escaping (T) -> Bool,
                                      within bound: Duration? = nil) async throws -> T? {
        let deadline = ContinuousClock.now + (bound ?? .milliseconds(configuration.replyTimeoutMilliseconds))
        while true {
            let generation = viewCommits.generation
            if let found = try await read(body), accepts(found) { return found }
            let now = ContinuousClock.now
            guard now < deadline else { return nil }
            await viewCommits.wait(after: generation, timeout: deadline - now)
        }
    }

    func agentDepartments(_ caller: Caller) async throws -> [String] {
        guard caller.role == .agent else { return [] }
        return try await read { try GatewayStore.agent($0, id: caller.id)?.departmentIds ?? [] }
    }

    /// E2: numbers a new visitor's contact. The one-partition `visitors.contacts` hands out
    /// offsets in one sequence across every gateway, so "Guest-(offset+1)" is unique. The
    /// record also carries the visitor's new data key (A6), kept here at once.
    func registerContact(visitorId: String) async throws -> String {
        let key = VisitorKey.generate()
        let record = WireRecord(topic: .visitorContacts, key: visitorId, envelope: envelope(.visitorRegistered(VisitorRegistered(visitorId: visitorId, key: key))))
        let report: KafkaDeliveryReport
        do { report = try await producer.send(record) } catch { throw APIError.unavailable }
        try await keyring.remember(key, for: visitorId)
        return VisitorRegistered.contactName(offset: report.offset)
    }

    /// How to seal a record about the visitor's chat. A visitor whose key is gone was erased
    /// (or holds a token from before keys): their session is over. (Staff writing in such a
    /// chat write `[erased]` in its place.)
    func sealing(visitorId: String, caller: Caller) async throws -> SealingContext {
        let sealing = try await keyring.sealing(owner: visitorId)
        guard sealing.keys[visitorId] != nil || caller.id != visitorId else {
            throw APIError(.unauthorized, "visitor_unknown", "This visitor session has ended; start a new one.")
        }
        return sealing
    }

    // MARK: Changes through the router

    /// Starts a chat, or returns the visitor's chat that is already open there (a double
    /// click or a resubmitted form does not open a second one).
    /// What a visitor leaves when nobody is available (A2).
    struct OfflineMessage: Sendable {
        var email: String
        var text: String
    }

    /// What the visitor entered in the pre-chat form (A3), before it is checked.
    struct PreChatSubmission: Sendable {
        var fields: [String: String]
        var category: String?
    }

    func startChat(visitor: Caller, departmentId: String, offlineMessage: OfflineMessage? = nil,
                   preChat: PreChatSubmission? = nil) async throws -> (chat: ChatView, created: Bool) {
        guard visitor.role == .visitor else { throw APIError(.forbidden, "forbidden", "Only visitors start chats.") }
        guard WireID.isValid(departmentId), let department = try await read({ try GatewayStore.department($0, id: departmentId) }) else {
            throw APIError(.notFound, "department_not_found", "There is no department '\(departmentId)'.")
        }
        if let offlineMessage {
            try validate(offlineMessage)
        }
        let answers = try PreChatRules.answers(to: department.preChatForm, fields: preChat?.fields ?? [:], category: preChat?.category,
                                               requireAnswers: offlineMessage == nil)
        let chatId = WireID.make()
        let command = envelope(.chatStartRequested(
            ChatStartRequested(chatId: chatId, departmentId: department.departmentId, visitor: visitor.participant, contactEmail: offlineMessage?.email,
                               preChat: answers, contact: visitor.contact)))
        let answer = try await ask(command, key: departmentId, sealing: try await sealing(visitorId: visitor.id, caller: visitor))
        switch answer.event {
        case .chatQueued:
            if let offlineMessage {
                // The message itself, as the conversation's first line; a retry stores it once.
                _ = try await post(chatId: chatId, clientMessageId: "offline-message", text: offlineMessage.text, sender: visitor)
                // Answered once stored, so the chat's messages include it from now on.
                _ = try await readOnceInView { db in try GatewayStore.lastSeq(db, chatId: chatId) > 0 ? true : nil }
            }
            return (try await visibleChat(chatId, to: visitor), true)
        case .requestRejected(let rejection) where rejection.code == .alreadyOpen:
            let existing = rejection.existingChatId ?? chatId
            let chat = try await read { try GatewayStore.chat($0, id: existing) }
            return (chat ?? ChatView(chatId: existing, departmentId: departmentId, status: "queued",
                                     visitor: PersonView(id: visitor.id, displayName: visitor.displayName, contact: visitor.contact), agent: nil, invitedAgents: [],
                                     offeredTo: nil, offerExpiresAt: nil, queuedAt: Date(), closedAt: nil,
                                     handledSeconds: 0, activeSince: nil, position: nil, estimatedWaitSeconds: nil), false)
        default:
            throw unexpected(answer)
        }
    }

    private func validate(_ message: OfflineMessage) throws {
        guard EmailAddress.isValid(message.email) else {
            throw APIError.invalid("offlineMessage.email must be an e-mail address like name@example.com.")
        }
        guard !message.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("offlineMessage.text must not be empty.")
        }
        guard message.text.count <= configuration.maxMessageCharacters else {
            throw APIError(.contentTooLarge, "message_too_long", "A message may have at most \(configuration.maxMessageCharacters) characters.")
        }
    }

    /// Manual pick: exactly one of several agents picking the same chat wins.
    func take(chatId: String, agent: Caller) async throws -> ChatView {
        guard agent.has(.agent) else { throw APIError(.forbidden, "forbidden", "Only agents take chats.") }
        let chat = try await visibleChat(chatId, to: agent)
        guard try await agentDepartments(agent).contains(chat.departmentId) else {
            throw APIError(.forbidden, "not_your_department", "This chat waits in a department you do not work in.")
        }
        let command = envelope(.chatTakeRequested(
            ChatTakeRequested(chatId: chatId, departmentId: chat.departmentId, agent: agent.participant)))
        let answer = try await ask(command, key: chat.departmentId)
        guard case .chatAssigned = answer.event else { throw unexpected(answer) }
        return try await visibleChat(chatId, to: agent)
    }

    func close(chatId: String, caller: Caller) async throws -> ChatView {
        let chat = try await visibleChat(chatId, to: caller)
        let command = envelope(.chatCloseRequested(
            ChatCloseRequested(chatId: chatId, departmentId: chat.departmentId, requestedBy: caller.participant)))
        let answer = try await ask(command, key: chat.departmentId, sealing: try await sealing(visitorId: chat.visitor.id, caller: caller))
        guard case .chatClosed = answer.event else { throw unexpected(answer) }
        return try await visibleChat(chatId, to: caller)
    }

    /// Sends a router command and waits for the router's answer about the same chat.
    /// Return to queue, park, unpark or transfer: only the agent handling the chat.
    func ownerAction(_ action: ChatOwnerActionRequested.Action, chatId: String, agent: Caller,
                     toDepartmentId: String? = nil, toAgentId: String? = nil) async throws -> ChatView {
        guard agent.has(.agent) else { throw APIError(.forbidden, "forbidden", "Only agents handle chats.") }
        for id in [toDepartmentId, toAgentId].compactMap({ $0 }) where !WireID.isValid(id) {
            throw APIError.invalid("'\(id)' is not a valid id.")
        }
        if action == .transfer, (toDepartmentId == nil) == (toAgentId == nil) {
            throw APIError.invalid("A transfer names exactly one of toDepartmentId and toAgentId.")
        }
        if action == .invite, toAgentId == nil {
            throw APIError.invalid("An invitation names the agent (agentId).")
        }
        let chat = try await visibleChat(chatId, to: agent)
        let command = envelope(.chatOwnerActionRequested(ChatOwnerActionRequested(
            chatId: chatId, departmentId: chat.departmentId, agent: agent.participant, action: action,
            toDepartmentId: toDepartmentId, toAgentId: toAgentId)))
        let answer = try await ask(command, key: chat.departmentId)
        if case .requestRejected = answer.event { throw unexpected(answer) }
        // After a transfer elsewhere the chat may no longer be visible to this agent.
        return try await read { try GatewayStore.chat($0, id: chatId) } ?? chat
    }

    private func ask(_ command: Envelope, key: String, sealing: SealingContext? = nil) async throws -> Envelope {
        let record = WireRecord(topic: .chatCommands, key: key, envelope: command, sealing: sealing)
        let chatId = command.event.chatId
        return try await replies.request(id: command.id, timeout: .milliseconds(configuration.replyTimeoutMilliseconds),
                                         accepts: { $0.event.chatId == chatId }) { [producer] in
            do { try await producer.send(record) } catch { throw APIError.unavailable }
        }
    }

    private func unexpected(_ answer: Envelope) -> APIError {
        guard case .requestRejected(let rejection) = answer.event else {
            return APIError(.internalServerError, "unexpected_answer", "Unexpected answer \(answer.type.rawValue).")
        }
        let status: HTTPResponse.Status = switch rejection.code {
        case .unknownChat: .notFound
        case .notParticipant, .notOwner: .forbidden
        case .unknownAction: .badRequest
        default: .conflict
        }
        return APIError(status, rejection.code.rawValue, rejection.message)
    }

    // MARK: Messages

    struct Accepted: Codable, Sendable {
        var chatId: String
        var messageId: String
    }

    /// Validates and publishes a message. Resending the same `clientMessageId` is harmless:
    /// every reader stores a chat's message id once.
    /// `checkDepartment` may refuse by the chat's department (a page's origin).
    func post(chatId: String, clientMessageId: String, text: String, sender: Caller,
              checkDepartment: (String) throws -> Void = { _ in }) async throws -> Accepted {
        guard WireID.isValid(clientMessageId) else {
            throw APIError.invalid("clientMessageId must be 1-128 characters of letters, digits and . _ : -")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.invalid("A message needs some text.") }
        guard text.count <= configuration.maxMessageCharacters else {
            throw APIError(.contentTooLarge, "message_too_long", "A message may have at most \(configuration.maxMessageCharacters) characters.")
        }
        let chat = try await visibleChat(chatId, to: sender)
        try checkDepartment(chat.departmentId)
        guard chat.status != "closed" else { throw APIError(.conflict, "chat_closed", "This chat has already ended.") }
        guard messageLimiter.allow(sender.id) else {
            throw APIError(.tooManyRequests, "rate_limited", "You are sending messages too fast; wait a moment and send again.")
        }
        let participates = sender.role == .visitor || chat.agentIds.contains(sender.id)
        guard participates else { throw APIError(.forbidden, "not_participant", "Only the agents taking part in this chat can write in it.") }
        let event = MessagePosted(chatId: chatId, messageId: clientMessageId, sender: sender.participant, text: text)
        let sealed = try await sealing(visitorId: chat.visitor.id, caller: sender)
        do {
            try await producer.send(WireRecord(topic: .chatConversations, key: chatId, envelope: envelope(.messagePosted(event)), sealing: sealed))
        } catch {
            throw APIError.unavailable
        }
        return Accepted(chatId: chatId, messageId: clientMessageId)
    }

    /// A4: tells the chat's other participants that the caller is typing (or stopped).
    /// Repeats of "typing" within `typingInterval` are dropped here, so a client may send one
    /// per keystroke.
    func typing(chatId: String, typing: Bool, sender: Caller) async throws {
        let chat = try await visibleChat(chatId, to: sender)
        guard chat.status != "closed" else { throw APIError(.conflict, "chat_closed", "This chat has already ended.") }
        guard sender.role == .visitor || chat.agentIds.contains(sender.id) else {
            throw APIError(.forbidden, "not_participant", "Only the agents taking part in this chat can write in it.")
        }
        guard typingThrottle.forward(typing, key: "\(sender.id) \(chatId)") else { return }
        let record = WireRecord(topic: .chatSignals, key: chatId, envelope: envelope(.chatTyping(ChatTyping(chatId: chatId, sender: sender.participant, typing: typing))),
                                sealing: try await sealing(visitorId: chat.visitor.id, caller: sender))
        // Ephemeral: not waited for; a lost signal is replaced by the next.
        _ = try? producer.enqueue(record.kafkaRecord)
    }

    // MARK: Presence

    /// Sets availability and/or busy; what is not given stays as the agent has it.
    func setAvailability(_ available: Bool?, busy: Bool? = nil, agent: Caller) async throws {
        guard agent.has(.agent) else { throw APIError(.forbidden, "forbidden", "Only agents have an availability.") }
        guard available != nil || busy != nil else { throw APIError.malformed("Give available, busy or both (true or false).") }
        guard let current = try await read({ try GatewayStore.agent($0, id: agent.id) }), current.status != "offline" else {
            throw APIError(.conflict, "agent_offline", "Connect the console first: availability applies to online agents.")
        }
        do {
            try await presence.availability(AgentAvailabilitySet(agentId: agent.id, available: available ?? current.available, busy: busy))
        } catch {
            throw APIError.unavailable
        }
    }

    /// B5: the queues the agent is logged in to from now on (a subset of their departments;
    /// empty logs them out of all).
    func setQueues(_ departmentIds: [String], agent: Caller) async throws {
        guard agent.has(.agent) else { throw APIError(.forbidden, "forbidden", "Only agents log in to queues.") }
        guard let current = try await read({ try GatewayStore.agent($0, id: agent.id) }) else {
            throw APIError(.conflict, "agent_unknown", "Presence does not know this agent yet; try again in a moment.")
        }
        let strangers = Set(departmentIds).subtracting(current.departmentIds)
        guard strangers.isEmpty else {
            throw APIError.invalid("You are not in \(strangers.sorted().joined(separator: ", ")); your departments are \(current.departmentIds.joined(separator: ", ")).")
        }
        do {
            try await presence.queues(AgentQueuesSet(agentId: agent.id, departmentIds: current.departmentIds.filter(departmentIds.contains)))
        } catch {
            throw APIError.unavailable
        }
    }

    // MARK: Archive

    func transcript(chatId: String, caller: Caller) async throws -> Transcript {
        _ = try await visibleChat(chatId, to: caller)
        let answer = try await archive.ask(.transcriptRequested(TranscriptRequested(chatId: chatId, replyTo: gatewayID)), key: chatId)
        guard case .transcriptAnswered(let answered) = answer.event, let transcript = answered.transcript else {
            throw APIError(.notFound, "transcript_not_found", "The archive has no transcript of this chat yet.")
        }
        return transcript
    }
}
