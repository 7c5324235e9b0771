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

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "archiver", environment: environment)
        groupID = try environment.string("ARCHIVER_GROUP_ID", default: "archiver")
    }

    public var storePath: String { "\(common.dataDirectory)/archiver.sqlite" }
}

/// Files conversation events and answers transcript questions.
struct ArchiveApplier: EventApplier {
    typealias Effect = Never
    let producerName: String

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [Never] {
        if case .transcriptRequested(let request) = envelope.event {
            let answer = TranscriptAnswered(chatId: request.chatId, replyTo: request.replyTo, transcript: try Archive.transcript(db, chatId: request.chatId))
            try WireRecord(topic: .gatewayReplies, key: request.replyTo,
                           envelope: .caused(by: envelope, producer: producerName, event: .transcriptAnswered(answer))).appendToOutbox(db)
        } else {
            try Archive.record(envelope, in: db)
        }
        return []
    }
}

public enum ArchiverApplication {
    public static func services(configuration: ArchiverConfiguration, context: RuntimeContext) throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: Archive.migrations)
        context.health.set("store", true)
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let outbox = OutboxPublisher(store: store, producer: producer, logger: logger)
        return [
            ProducerService(producer: producer),
            outbox,
            ConsumerLoop(name: "archive", topics: [.chatConversations, .archiveQueries], mode: .group(groupID: configuration.groupID),
                         store: store, common: configuration.common, applier: ArchiveApplier(producerName: configuration.common.instanceID),
                         outbox: outbox, health: context.health, logger: logger),
            OpsRoutes.server(host: configuration.common.opsHost, port: configuration.common.opsPort, context: context),
        ]
    }
}
