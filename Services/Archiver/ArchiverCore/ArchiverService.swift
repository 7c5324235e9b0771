import ArchiverDelivery
import AsyncHTTPClient
import ChatKafka
import ChatOps
import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// The archiver's configuration, read from the environment in one place.
public struct ArchiverConfiguration: Sendable {
    public var common: CommonConfiguration
    /// `ARCHIVER_GROUP_ID`.
    public var groupID: String
    /// `ARCHIVER_RETENTION_DAYS`: how long closed chats of departments without their own
    /// setting are kept; 0 keeps them.
    public var defaultRetentionDays: Int
    /// `ARCHIVER_RETENTION_CHECK_SECONDS`: how often old chats are looked for.
    public var retentionCheckSeconds: Int
    /// `ARCHIVER_SMTP_*`, `ARCHIVER_WEBHOOK_*`.
    public var deliveries: DeliverySettings

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "archiver", environment: environment)
        groupID = try environment.string("ARCHIVER_GROUP_ID", default: "archiver")
        defaultRetentionDays = try environment.int("ARCHIVER_RETENTION_DAYS", default: 0, range: 0...DepartmentSettingsUpdated.retentionDaysRange.upperBound)
        retentionCheckSeconds = try environment.int("ARCHIVER_RETENTION_CHECK_SECONDS", default: 3600, range: 1...86_400)
        deliveries = try DeliverySettings(environment: environment)
    }

    public var storePath: String { "\(common.dataDirectory)/archiver.sqlite" }
}

/// Files conversation events and answers the archive's questions.
struct ArchiveApplier: EventApplier {
    typealias Effect = Never
    let producerName: String
    let store: ServiceStore
    let deliveries: DeliverySettings
    let worker: DeliveryWorker

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        switch envelope.event {
        case .transcriptRequested(let request):
            let answer = TranscriptAnswered(chatId: request.chatId, replyTo: request.replyTo, transcript: try Archive.transcript(db, chatId: request.chatId))
            try reply(.transcriptAnswered(answer), to: request.replyTo, cause: envelope, in: db)
        case .archiveSearchRequested(let request):
            try reply(.archiveSearchAnswered(try Archive.search(request, in: db)), to: request.replyTo, cause: envelope, in: db)
        case .archiveDeleteRequested(let request):
            try delete(request, cause: envelope, in: db)
        case .visitorErasureRequested(let erasure):
            // Written to every partition: each owner forgets the visitor's chats of its own.
            for chat in try Archive.chatsOfVisitor(db, visitorId: erasure.visitorId, partition: record.partition) {
                try deleteChat(chat.id, departmentId: chat.departmentId, reason: .erasure, by: nil, cause: envelope, in: db)
            }
            _ = try DeliveryOutbox.removeAll(db, subject: erasure.visitorId)
            Task { [store] in await store.truncateLog() }  // runs once this transaction committed
        case .transcriptEmailRequested(let request):
            try reply(.deliveryQueued(try emailTranscript(request, id: envelope.id, in: db)), to: request.replyTo, cause: envelope, in: db)
        case .ticketRequested(let request):
            try reply(.deliveryQueued(try requestTicket(request, id: envelope.id, in: db)), to: request.replyTo, cause: envelope, in: db)
        case .chatClosed(let closed):
            try Archive.record(envelope, partition: record.partition, in: db)
            if deliveries.sendsWebhook("chat.closed"), let url = deliveries.webhookURL, let chat = try Archive.archivedChat(db, chatId: closed.chatId) {
                try enqueue(id: "chat.closed:\(closed.chatId)", subject: chat.visitor.id, .webhook(try Deliveries.webhook("chat.closed", chat: chat, url: url)), in: db)
            }
        case .chatDeleted:
            break  // our own announcement
        default:
            try Archive.record(envelope, partition: record.partition, in: db)
        }
        return []
    }

    /// A7: renders the transcript and queues the mail.
    private func emailTranscript(_ request: TranscriptEmailRequested, id: String, in db: Database) throws -> DeliveryQueued {
        guard deliveries.smtp != nil else {
            return DeliveryQueued(replyTo: request.replyTo, chatId: request.chatId, deliveryId: nil, refusal: "not_configured")
        }
        guard let transcript = try Archive.transcript(db, chatId: request.chatId) else {
            return DeliveryQueued(replyTo: request.replyTo, chatId: request.chatId, deliveryId: nil, refusal: "not_found")
        }
        try enqueue(id: id, subject: transcript.visitor.id, .mail(try Deliveries.transcriptMail(request, transcript: transcript)), in: db)
        return DeliveryQueued(replyTo: request.replyTo, chatId: request.chatId, deliveryId: id, refusal: nil)
    }

    /// E5: the chat with its transcript to the ticket system's webhook.
    private func requestTicket(_ request: TicketRequested, id: String, in db: Database) throws -> DeliveryQueued {
        guard deliveries.sendsWebhook("ticket.requested"), let url = deliveries.webhookURL else {
            return DeliveryQueued(replyTo: request.replyTo, chatId: request.chatId, deliveryId: nil, refusal: "not_configured")
        }
        guard let chat = try Archive.archivedChat(db, chatId: request.chatId) else {
            return DeliveryQueued(replyTo: request.replyTo, chatId: request.chatId, deliveryId: nil, refusal: "not_found")
        }
        let hook = try Deliveries.webhook("ticket.requested", chat: chat, url: url, note: request.note, requestedBy: request.requestedBy)
        try enqueue(id: id, subject: chat.visitor.id, .webhook(hook), in: db)
        return DeliveryQueued(replyTo: request.replyTo, chatId: request.chatId, deliveryId: id, refusal: nil)
    }

    /// Into the durable outbox, in the caller's transaction; the worker is woken (it also
    /// polls, in case it looks before the transaction committed).
    private func enqueue(id: String, subject: String, _ delivery: Delivery, in db: Database) throws {
        try DeliveryOutbox.enqueue(db, id: id, subject: subject, delivery: delivery, now: Date())
        Task { [worker] in worker.wake() }
    }

    /// E4: one closed chat, or every closed chat of the caller's departments on a partition.
    private func delete(_ request: ArchiveDeleteRequested, cause: Envelope, in db: Database) throws {
        var deleted: [String] = []
        var open: [String] = []
        if let chatId = request.chatId {
            if let status = try Archive.chatStatus(db, chatId: chatId) {
                if status.closed {
                    try deleteChat(chatId, departmentId: status.departmentId, reason: .deleted, by: request.requestedBy, cause: cause, in: db)
                    deleted.append(chatId)
                } else {
                    open.append(chatId)
                }
            }
        } else if let partition = request.partition {
            for chat in try Archive.closedChats(db, partition: partition, departmentIds: request.departmentIds) {
                try deleteChat(chat.id, departmentId: chat.departmentId, reason: .deleted, by: request.requestedBy, cause: cause, in: db)
                deleted.append(chat.id)
            }
        }
        try reply(.archiveDeleteAnswered(ArchiveDeleteAnswered(replyTo: request.replyTo, deletedChatIds: deleted, openChatIds: open)),
                  to: request.replyTo, cause: cause, in: db)
    }

    /// Deletes a chat and tells every reader (`chat.deleted`), in the same transaction.
    func deleteChat(_ chatId: String, departmentId: String, reason: ChatDeleted.Reason, by: Participant?, cause: Envelope?, in db: Database) throws {
        try Archive.delete(chatId: chatId, in: db)
        let event = WireEvent.chatDeleted(ChatDeleted(chatId: chatId, departmentId: departmentId, reason: reason, deletedBy: by))
        let envelope = cause.map { Envelope.caused(by: $0, producer: producerName, event: event) } ?? Envelope(producer: producerName, event: event)
        try WireRecord(topic: .chatConversations, key: chatId, envelope: envelope).appendToOutbox(db)
    }

    /// An answer to a gateway; the chats and transcripts in it are sealed with their
    /// visitors' keys (A6), as they were when they came.
    private func reply(_ event: WireEvent, to gateway: String, cause: Envelope, in db: Database) throws {
        let envelope = Envelope.caused(by: cause, producer: producerName, event: event)
        let keys = try VisitorKeyring.keys(for: envelope.sealingOwners(owner: nil), in: db)
        try WireRecord(topic: .gatewayReplies, key: gateway, envelope: envelope, sealing: SealingContext(owner: nil, keys: keys)).appendToOutbox(db)
    }

    /// E4: deletes closed chats older than their department's retention; forgets finished
    /// deliveries (they hold transcripts) after a day.
    func applyRetention(defaultDays: Int, now: Date, in db: Database) throws {
        try DeliveryOutbox.prune(db, finishedBefore: now.addingTimeInterval(-86_400))
        var days = try Archive.retentionDays(db)
        if defaultDays > 0 {
            for department in try Archive.archivedDepartments(db) where days[department] == nil { days[department] = defaultDays }
        }
        for (department, keep) in days {
            let cutoff = now.addingTimeInterval(-Double(keep) * 86_400)
            for chat in try Archive.closedChats(db, partition: nil, departmentIds: [department], closedBefore: cutoff) {
                try deleteChat(chat.id, departmentId: chat.departmentId, reason: .retention, by: nil, cause: nil, in: db)
            }
        }
    }
}

/// Keeps every department's settings (all partitions of `departments.settings`).
struct DepartmentSettingsApplier: EventApplier {
    typealias Effect = Never

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        if case .departmentSettingsUpdated(let settings) = envelope.event {
            try Archive.saveSettings(settings, in: db)
        }
        return []
    }
}

public enum ArchiverApplication {
    public static func services(configuration: ArchiverConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try Archive.openStore(path: configuration.storePath)
        context.health.set("store", true)
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let outbox = OutboxPublisher(store: store, producer: producer, logger: logger)
        let settings = configuration.deliveries
        let worker = DeliveryWorker(database: store.database, mailer: settings.smtp.map { SMTPClient(settings: $0) },
                                    webhooks: settings.webhookURL.map { _ in WebhookClient(secret: settings.webhookSecret, httpClient: .shared) },
                                    logger: logger)
        let applier = ArchiveApplier(producerName: configuration.common.instanceID, store: store, deliveries: settings, worker: worker)
        let keyring = VisitorKeyring(store: store, common: configuration.common, logger: logger)
        let retention = PeriodicTask(every: .seconds(configuration.retentionCheckSeconds), store: store, outbox: outbox) { db, now in
            try applier.applyRetention(defaultDays: configuration.defaultRetentionDays, now: now, in: db)
        }
        return [
            ProducerService(producer: producer),
            outbox,
            ConsumerLoop(name: "archive", topics: [.chatConversations, .archiveQueries], mode: .group(groupID: configuration.groupID),
                         store: store, common: configuration.common, applier: applier, outbox: outbox, keyring: keyring, health: context.health,
                         logger: logger),
            keyring.loop(health: context.health),
            ConsumerLoop(name: "settings", topics: [.departmentSettings], mode: .allPartitions,
                         store: store, common: configuration.common, applier: DepartmentSettingsApplier(), outbox: nil, health: context.health, logger: logger),
            retention,
            worker,
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }
}
