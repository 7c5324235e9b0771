/// The type tag of each record, with the newest schema version this build reads and writes.
public enum EventType: String, CaseIterable, Sendable {
    case chatStartRequested = "chat.start_requested"
    case chatTakeRequested = "chat.take_requested"
    case chatCloseRequested = "chat.close_requested"
    case chatOwnerActionRequested = "chat.owner_action_requested"
    case chatTransferIn = "chat.transfer_in"
    case chatQueued = "chat.queued"
    case chatAssigned = "chat.assigned"
    case chatClosed = "chat.closed"
    case chatRequeued = "chat.requeued"
    case chatParked = "chat.parked"
    case chatUnparked = "chat.unparked"
    case chatTransferred = "chat.transferred"
    case chatAgentInvited = "chat.agent_invited"
    case chatOffered = "chat.offered"
    case chatOfferWithdrawn = "chat.offer_withdrawn"
    case chatWrapUpStarted = "chat.wrapup_started"
    case chatWrapUpFinished = "chat.wrapup_finished"
    case requestRejected = "request.rejected"
    case messagePosted = "message.posted"
    case agentConnected = "agent.connected"
    case agentDisconnected = "agent.disconnected"
    case agentAvailabilitySet = "agent.availability_set"
    case gatewayStarted = "gateway.started"
    case agentPresenceChanged = "agent.presence_changed"
    case departmentAvailabilityChanged = "department.availability_changed"
    case transcriptRequested = "transcript.requested"
    case transcriptAnswered = "transcript.answered"
    case routerPartitionSnapshot = "router.partition_snapshot"
    case chatAssignmentProposed = "chat.assignment_proposed"
    case agentCallStarted = "agent.call_started"
    case agentCallEnded = "agent.call_ended"
    case callRoutingRequested = "call.routing_requested"
    case callRouted = "call.routed"
    case agentQueuesSet = "agent.queues_set"
    case chatTyping = "chat.typing"
    case accountRegistrationRequested = "account.registration_requested"
    case accountUpdateRequested = "account.update_requested"
    case sessionRevokeRequested = "session.revoke_requested"
    case agentActive = "agent.active"
    case accountUpdated = "account.updated"
    case chatVisitorPresence = "chat.visitor_presence"
    case accountPasswordSet = "account.password_set"
    case archiveSearchRequested = "archive.search_requested"
    case archiveSearchAnswered = "archive.search_answered"
    case archiveDeleteRequested = "archive.delete_requested"
    case archiveDeleteAnswered = "archive.delete_answered"
    case chatDeleted = "chat.deleted"
    case visitorErasureRequested = "visitor.erasure_requested"
    case visitorRegistered = "visitor.registered"
    case departmentSettingsUpdated = "department.settings_updated"
    case transcriptEmailRequested = "transcript.email_requested"
    case ticketRequested = "ticket.requested"
    case deliveryQueued = "delivery.queued"

    public var schemaVersion: Int { 1 }
}

/// Every event, with its payload. One case per `EventType`.
public enum WireEvent: Sendable, Equatable {
    case chatStartRequested(ChatStartRequested)
    case chatTakeRequested(ChatTakeRequested)
    case chatCloseRequested(ChatCloseRequested)
    case chatOwnerActionRequested(ChatOwnerActionRequested)
    case chatTransferIn(ChatTransferIn)
    case chatQueued(ChatQueued)
    case chatAssigned(ChatAssigned)
    case chatClosed(ChatClosed)
    case chatRequeued(ChatRequeued)
    case chatParked(ChatParkChanged)
    case chatUnparked(ChatParkChanged)
    case chatTransferred(ChatTransferred)
    case chatAgentInvited(ChatAgentInvited)
    case chatOffered(ChatOffered)
    case chatOfferWithdrawn(ChatOfferWithdrawn)
    case chatWrapUpStarted(ChatWrapUpChanged)
    case chatWrapUpFinished(ChatWrapUpChanged)
    case requestRejected(RequestRejected)
    case messagePosted(MessagePosted)
    case agentConnected(AgentConnected)
    case agentDisconnected(AgentDisconnected)
    case agentAvailabilitySet(AgentAvailabilitySet)
    case gatewayStarted(GatewayStarted)
    case agentPresenceChanged(AgentPresenceChanged)
    case departmentAvailabilityChanged(DepartmentAvailabilityChanged)
    case transcriptRequested(TranscriptRequested)
    case transcriptAnswered(TranscriptAnswered)
    case routerPartitionSnapshot(RouterPartitionSnapshot)
    case chatAssignmentProposed(ChatAssignmentProposed)
    case agentCallStarted(AgentCallChanged)
    case agentCallEnded(AgentCallChanged)
    case callRoutingRequested(CallRoutingRequested)
    case callRouted(CallRouted)
    case agentQueuesSet(AgentQueuesSet)
    case chatTyping(ChatTyping)
    case accountRegistrationRequested(AccountRegistrationRequested)
    case accountUpdateRequested(AccountUpdateRequested)
    case sessionRevokeRequested(SessionRevokeRequested)
    case agentActive(AgentActive)
    case accountUpdated(AccountUpdated)
    case chatVisitorPresence(ChatVisitorPresence)
    case accountPasswordSet(AccountPasswordSet)
    case archiveSearchRequested(ArchiveSearchRequested)
    case archiveSearchAnswered(ArchiveSearchAnswered)
    case archiveDeleteRequested(ArchiveDeleteRequested)
    case archiveDeleteAnswered(ArchiveDeleteAnswered)
    case chatDeleted(ChatDeleted)
    case visitorErasureRequested(VisitorErasureRequested)
    case visitorRegistered(VisitorRegistered)
    case departmentSettingsUpdated(DepartmentSettingsUpdated)
    case transcriptEmailRequested(TranscriptEmailRequested)
    case ticketRequested(TicketRequested)
    case deliveryQueued(DeliveryQueued)

    public var type: EventType {
        switch self {
        case .chatStartRequested: .chatStartRequested
        case .chatTakeRequested: .chatTakeRequested
        case .chatCloseRequested: .chatCloseRequested
        case .chatOwnerActionRequested: .chatOwnerActionRequested
        case .chatTransferIn: .chatTransferIn
        case .chatQueued: .chatQueued
        case .chatAssigned: .chatAssigned
        case .chatClosed: .chatClosed
        case .chatRequeued: .chatRequeued
        case .chatParked: .chatParked
        case .chatUnparked: .chatUnparked
        case .chatTransferred: .chatTransferred
        case .chatAgentInvited: .chatAgentInvited
        case .chatOffered: .chatOffered
        case .chatOfferWithdrawn: .chatOfferWithdrawn
        case .chatWrapUpStarted: .chatWrapUpStarted
        case .chatWrapUpFinished: .chatWrapUpFinished
        case .requestRejected: .requestRejected
        case .messagePosted: .messagePosted
        case .agentConnected: .agentConnected
        case .agentDisconnected: .agentDisconnected
        case .agentAvailabilitySet: .agentAvailabilitySet
        case .gatewayStarted: .gatewayStarted
        case .agentPresenceChanged: .agentPresenceChanged
        case .departmentAvailabilityChanged: .departmentAvailabilityChanged
        case .transcriptRequested: .transcriptRequested
        case .transcriptAnswered: .transcriptAnswered
        case .routerPartitionSnapshot: .routerPartitionSnapshot
        case .chatAssignmentProposed: .chatAssignmentProposed
        case .agentCallStarted: .agentCallStarted
        case .agentCallEnded: .agentCallEnded
        case .callRoutingRequested: .callRoutingRequested
        case .callRouted: .callRouted
        case .agentQueuesSet: .agentQueuesSet
        case .chatTyping: .chatTyping
        case .accountRegistrationRequested: .accountRegistrationRequested
        case .accountUpdateRequested: .accountUpdateRequested
        case .sessionRevokeRequested: .sessionRevokeRequested
        case .agentActive: .agentActive
        case .accountUpdated: .accountUpdated
        case .chatVisitorPresence: .chatVisitorPresence
        case .accountPasswordSet: .accountPasswordSet
        case .archiveSearchRequested: .archiveSearchRequested
        case .archiveSearchAnswered: .archiveSearchAnswered
        case .archiveDeleteRequested: .archiveDeleteRequested
        case .archiveDeleteAnswered: .archiveDeleteAnswered
        case .chatDeleted: .chatDeleted
        case .visitorErasureRequested: .visitorErasureRequested
        case .visitorRegistered: .visitorRegistered
        case .departmentSettingsUpdated: .departmentSettingsUpdated
        case .transcriptEmailRequested: .transcriptEmailRequested
        case .ticketRequested: .ticketRequested
        case .deliveryQueued: .deliveryQueued
        }
    }

    /// The chat the event is about, for events that are about one.
    public var chatId: String? {
        switch self {
        case .chatStartRequested(let payload): payload.chatId
        case .chatTakeRequested(let payload): payload.chatId
        case .chatCloseRequested(let payload): payload.chatId
        case .chatOwnerActionRequested(let payload): payload.chatId
        case .chatTransferIn(let payload): payload.chatId
        case .chatParked(let payload), .chatUnparked(let payload): payload.chatId
        case .chatTransferred(let payload): payload.chatId
        case .chatAgentInvited(let payload): payload.chatId
        case .chatOffered(let payload): payload.chatId
        case .chatOfferWithdrawn(let payload): payload.chatId
        case .chatWrapUpStarted(let payload), .chatWrapUpFinished(let payload): payload.chatId
        case .chatQueued(let payload): payload.chatId
        case .chatAssigned(let payload): payload.chatId
        case .chatClosed(let payload): payload.chatId
        case .chatRequeued(let payload): payload.chatId
        case .requestRejected(let payload): payload.chatId
        case .messagePosted(let payload): payload.chatId
        case .transcriptRequested(let payload): payload.chatId
        case .transcriptAnswered(let payload): payload.chatId
        case .chatAssignmentProposed(let payload): payload.chatId
        case .chatTyping(let payload): payload.chatId
        case .chatVisitorPresence(let payload): payload.chatId
        case .archiveDeleteRequested(let payload): payload.chatId
        case .chatDeleted(let payload): payload.chatId
        case .transcriptEmailRequested(let payload): payload.chatId
        case .ticketRequested(let payload): payload.chatId
        case .deliveryQueued(let payload): payload.chatId
        case .archiveSearchRequested, .archiveSearchAnswered, .archiveDeleteAnswered, .visitorErasureRequested, .departmentSettingsUpdated,
             .visitorRegistered: nil
        case .agentConnected, .agentDisconnected, .agentAvailabilitySet, .gatewayStarted, .agentPresenceChanged, .departmentAvailabilityChanged, .routerPartitionSnapshot,
             .agentCallStarted, .agentCallEnded, .callRoutingRequested, .callRouted, .agentQueuesSet,
             .accountRegistrationRequested, .accountUpdateRequested, .sessionRevokeRequested, .agentActive, .accountUpdated, .accountPasswordSet: nil
        }
    }

    /// The agent a presence command is about.
    public var agentId: String? {
        switch self {
        case .agentConnected(let payload): payload.agentId
        case .agentDisconnected(let payload): payload.agentId
        case .agentAvailabilitySet(let payload): payload.agentId
        case .agentPresenceChanged(let payload): payload.agentId
        case .agentCallStarted(let payload), .agentCallEnded(let payload): payload.agentId
        case .agentQueuesSet(let payload): payload.agentId
        case .accountRegistrationRequested(let payload): payload.agentId
        case .accountUpdateRequested(let payload): payload.agentId
        case .sessionRevokeRequested(let payload): payload.agentId
        case .agentActive(let payload): payload.agentId
        case .accountUpdated(let payload): payload.agentId
        case .accountPasswordSet(let payload): payload.agentId
        default: nil
        }
    }

    init(type: EventType, payload decoder: any Decoder) throws {
        switch type {
        case .chatStartRequested: self = .chatStartRequested(try ChatStartRequested(from: decoder))
        case .chatTakeRequested: self = .chatTakeRequested(try ChatTakeRequested(from: decoder))
        case .chatCloseRequested: self = .chatCloseRequested(try ChatCloseRequested(from: decoder))
        case .chatOwnerActionRequested: self = .chatOwnerActionRequested(try ChatOwnerActionRequested(from: decoder))
        case .chatTransferIn: self = .chatTransferIn(try ChatTransferIn(from: decoder))
        case .chatQueued: self = .chatQueued(try ChatQueued(from: decoder))
        case .chatAssigned: self = .chatAssigned(try ChatAssigned(from: decoder))
        case .chatClosed: self = .chatClosed(try ChatClosed(from: decoder))
        case .chatRequeued: self = .chatRequeued(try ChatRequeued(from: decoder))
        case .chatParked: self = .chatParked(try ChatParkChanged(from: decoder))
        case .chatUnparked: self = .chatUnparked(try ChatParkChanged(from: decoder))
        case .chatTransferred: self = .chatTransferred(try ChatTransferred(from: decoder))
        case .chatAgentInvited: self = .chatAgentInvited(try ChatAgentInvited(from: decoder))
        case .chatOffered: self = .chatOffered(try ChatOffered(from: decoder))
        case .chatOfferWithdrawn: self = .chatOfferWithdrawn(try ChatOfferWithdrawn(from: decoder))
        case .chatWrapUpStarted: self = .chatWrapUpStarted(try ChatWrapUpChanged(from: decoder))
        case .chatWrapUpFinished: self = .chatWrapUpFinished(try ChatWrapUpChanged(from: decoder))
        case .requestRejected: self = .requestRejected(try RequestRejected(from: decoder))
        case .messagePosted: self = .messagePosted(try MessagePosted(from: decoder))
        case .agentConnected: self = .agentConnected(try AgentConnected(from: decoder))
        case .agentDisconnected: self = .agentDisconnected(try AgentDisconnected(from: decoder))
        case .agentAvailabilitySet: self = .agentAvailabilitySet(try AgentAvailabilitySet(from: decoder))
        case .gatewayStarted: self = .gatewayStarted(try GatewayStarted(from: decoder))
        case .agentPresenceChanged: self = .agentPresenceChanged(try AgentPresenceChanged(from: decoder))
        case .departmentAvailabilityChanged: self = .departmentAvailabilityChanged(try DepartmentAvailabilityChanged(from: decoder))
        case .transcriptRequested: self = .transcriptRequested(try TranscriptRequested(from: decoder))
        case .transcriptAnswered: self = .transcriptAnswered(try TranscriptAnswered(from: decoder))
        case .routerPartitionSnapshot: self = .routerPartitionSnapshot(try RouterPartitionSnapshot(from: decoder))
        case .chatAssignmentProposed: self = .chatAssignmentProposed(try ChatAssignmentProposed(from: decoder))
        case .agentCallStarted: self = .agentCallStarted(try AgentCallChanged(from: decoder))
        case .agentCallEnded: self = .agentCallEnded(try AgentCallChanged(from: decoder))
        case .callRoutingRequested: self = .callRoutingRequested(try CallRoutingRequested(from: decoder))
        case .callRouted: self = .callRouted(try CallRouted(from: decoder))
        case .agentQueuesSet: self = .agentQueuesSet(try AgentQueuesSet(from: decoder))
        case .chatTyping: self = .chatTyping(try ChatTyping(from: decoder))
        case .accountRegistrationRequested: self = .accountRegistrationRequested(try AccountRegistrationRequested(from: decoder))
        case .accountUpdateRequested: self = .accountUpdateRequested(try AccountUpdateRequested(from: decoder))
        case .sessionRevokeRequested: self = .sessionRevokeRequested(try SessionRevokeRequested(from: decoder))
        case .agentActive: self = .agentActive(try AgentActive(from: decoder))
        case .accountUpdated: self = .accountUpdated(try AccountUpdated(from: decoder))
        case .chatVisitorPresence: self = .chatVisitorPresence(try ChatVisitorPresence(from: decoder))
        case .accountPasswordSet: self = .accountPasswordSet(try AccountPasswordSet(from: decoder))
        case .archiveSearchRequested: self = .archiveSearchRequested(try ArchiveSearchRequested(from: decoder))
        case .archiveSearchAnswered: self = .archiveSearchAnswered(try ArchiveSearchAnswered(from: decoder))
        case .archiveDeleteRequested: self = .archiveDeleteRequested(try ArchiveDeleteRequested(from: decoder))
        case .archiveDeleteAnswered: self = .archiveDeleteAnswered(try ArchiveDeleteAnswered(from: decoder))
        case .chatDeleted: self = .chatDeleted(try ChatDeleted(from: decoder))
        case .visitorErasureRequested: self = .visitorErasureRequested(try VisitorErasureRequested(from: decoder))
        case .visitorRegistered: self = .visitorRegistered(try VisitorRegistered(from: decoder))
        case .departmentSettingsUpdated: self = .departmentSettingsUpdated(try DepartmentSettingsUpdated(from: decoder))
        case .transcriptEmailRequested: self = .transcriptEmailRequested(try TranscriptEmailRequested(from: decoder))
        case .ticketRequested: self = .ticketRequested(try TicketRequested(from: decoder))
        case .deliveryQueued: self = .deliveryQueued(try DeliveryQueued(from: decoder))
        }
    }

    func encodePayload(to encoder: any Encoder) throws {
        switch self {
        case .chatStartRequested(let payload): try payload.encode(to: encoder)
        case .chatTakeRequested(let payload): try payload.encode(to: encoder)
        case .chatCloseRequested(let payload): try payload.encode(to: encoder)
        case .chatOwnerActionRequested(let payload): try payload.encode(to: encoder)
        case .chatTransferIn(let payload): try payload.encode(to: encoder)
        case .chatQueued(let payload): try payload.encode(to: encoder)
        case .chatAssigned(let payload): try payload.encode(to: encoder)
        case .chatClosed(let payload): try payload.encode(to: encoder)
        case .chatRequeued(let payload): try payload.encode(to: encoder)
        case .chatParked(let payload), .chatUnparked(let payload): try payload.encode(to: encoder)
        case .chatTransferred(let payload): try payload.encode(to: encoder)
        case .chatAgentInvited(let payload): try payload.encode(to: encoder)
        case .chatOffered(let payload): try payload.encode(to: encoder)
        case .chatOfferWithdrawn(let payload): try payload.encode(to: encoder)
        case .chatWrapUpStarted(let payload), .chatWrapUpFinished(let payload): try payload.encode(to: encoder)
        case .requestRejected(let payload): try payload.encode(to: encoder)
        case .messagePosted(let payload): try payload.encode(to: encoder)
        case .agentConnected(let payload): try payload.encode(to: encoder)
        case .agentDisconnected(let payload): try payload.encode(to: encoder)
        case .agentAvailabilitySet(let payload): try payload.encode(to: encoder)
        case .gatewayStarted(let payload): try payload.encode(to: encoder)
        case .agentPresenceChanged(let payload): try payload.encode(to: encoder)
        case .departmentAvailabilityChanged(let payload): try payload.encode(to: encoder)
        case .transcriptRequested(let payload): try payload.encode(to: encoder)
        case .transcriptAnswered(let payload): try payload.encode(to: encoder)
        case .routerPartitionSnapshot(let payload): try payload.encode(to: encoder)
        case .chatAssignmentProposed(let payload): try payload.encode(to: encoder)
        case .agentCallStarted(let payload), .agentCallEnded(let payload): try payload.encode(to: encoder)
        case .callRoutingRequested(let payload): try payload.encode(to: encoder)
        case .callRouted(let payload): try payload.encode(to: encoder)
        case .agentQueuesSet(let payload): try payload.encode(to: encoder)
        case .chatTyping(let payload): try payload.encode(to: encoder)
        case .accountRegistrationRequested(let payload): try payload.encode(to: encoder)
        case .accountUpdateRequested(let payload): try payload.encode(to: encoder)
        case .sessionRevokeRequested(let payload): try payload.encode(to: encoder)
        case .agentActive(let payload): try payload.encode(to: encoder)
        case .accountUpdated(let payload): try payload.encode(to: encoder)
        case .chatVisitorPresence(let payload): try payload.encode(to: encoder)
        case .accountPasswordSet(let payload): try payload.encode(to: encoder)
        case .archiveSearchRequested(let payload): try payload.encode(to: encoder)
        case .archiveSearchAnswered(let payload): try payload.encode(to: encoder)
        case .archiveDeleteRequested(let payload): try payload.encode(to: encoder)
        case .archiveDeleteAnswered(let payload): try payload.encode(to: encoder)
        case .chatDeleted(let payload): try payload.encode(to: encoder)
        case .visitorErasureRequested(let payload): try payload.encode(to: encoder)
        case .visitorRegistered(let payload): try payload.encode(to: encoder)
        case .departmentSettingsUpdated(let payload): try payload.encode(to: encoder)
        case .transcriptEmailRequested(let payload): try payload.encode(to: encoder)
        case .ticketRequested(let payload): try payload.encode(to: encoder)
        case .deliveryQueued(let payload): try payload.encode(to: encoder)
        }
    }
}

/// A record ready to produce: topic, key and envelope.
public struct WireRecord: Sendable, Equatable {
    public var topic: Topic
    public var key: String
    public var envelope: Envelope
    /// Set only for records every partition must carry (see `GatewayStarted`).
    public var partition: Int32?
    /// How to seal the envelope's personal strings when it is written (nil: it carries
    /// none in clear, or forwards what is already sealed).
    public var sealing: SealingContext?

    public init(topic: Topic, key: String, envelope: Envelope, partition: Int32? = nil, sealing: SealingContext? = nil) {
        self.topic = topic
        self.key = key
        self.envelope = envelope
        self.partition = partition
        self.sealing = sealing
    }

    /// The envelope as it goes on the topic.
    public var wireEnvelope: Envelope {
        sealing.map { envelope.sealed($0) } ?? envelope
    }
}
