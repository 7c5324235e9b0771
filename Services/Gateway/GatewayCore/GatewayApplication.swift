import ChatKafka
import ChatOps
import ChatRuntime
import ChatStore
import ChatWire
import Crypto
import Foundation
import GRDB
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics
import ServiceLifecycle

/// Keeps the gateway's view current and wakes whoever waits for what just committed.
struct GatewayViewApplier: EventApplier {
    let hub: ConnectionHub
    let replies: PendingReplies
    let viewCommits: ViewCommits
    let store: ServiceStore

    func apply(_ envelope: Envelope, record: KafkaConsumedRecord, in db: Database) throws -> [GatewayEffect] {
        if case .visitorErasureRequested = envelope.event {
            Task { [store] in await store.truncateLog() }  // runs once this transaction committed
        }
        return try GatewayStore.apply(envelope, in: db)
    }

    func afterCommit(_ effects: [GatewayEffect]) async {
        viewCommits.committed()
        hub.deliver(effects)
        for case .reply(let causation, let envelope) in effects {
            replies.resolve(causation, with: envelope)
        }
    }
}

public enum GatewayApplication {
    public static func services(configuration: GatewayConfiguration, context: RuntimeContext) async throws -> [any Service] {
        let logger = context.logger
        let store = try ServiceStore(path: configuration.storePath, migrations: GatewayStore.migrations + [VisitorKeyring.migration])
        context.health.set("store", true)
        let secret = try configuration.tokenSecret ?? localSecret(in: configuration.common.dataDirectory)
        let signer = AccessTokenSigner(secret: secret, lifetime: TimeInterval(configuration.tokenLifetimeSeconds))
        let producer = try KafkaProducer(configuration: configuration.common.producerConfiguration(), logger: logger)
        let presencePartitions = try await announceStart(producer: producer, gatewayID: configuration.common.instanceID, logger: logger)
        let presence = PresenceReporter(producer: producer, gatewayID: configuration.common.instanceID, partitions: presencePartitions)

        let hub = ConnectionHub()
        let replies = PendingReplies()
        let viewCommits = ViewCommits()
        let keyring = VisitorKeyring(store: store, common: configuration.common, logger: logger)
        let operations = ChatOperations(store: store, producer: producer, replies: replies, viewCommits: viewCommits, presence: presence,
                                        signer: signer, keyring: keyring, configuration: configuration)
        let router = Router()
        router.middlewares.add(AccessLogMiddleware(logger: logger))
        router.middlewares.add(CrossOriginMiddleware(allowed: configuration.allowedOrigins))
        // Static files first; anything not found there goes on to the API routes.
        router.middlewares.add(FileMiddleware(configuration.publicDirectory, searchForIndexHtml: true, logger: logger))
        GatewayHTTP(operations: operations, signer: signer, hub: hub).register(on: router)
        OpsRoutes.register(on: router, context: context) {
            // Gauges read at scrape time from the gateway's view.
            Gauge(label: "chat_websocket_connections").record(Double(hub.count))
            guard let queues = try? await store.database.read({ try GatewayStore.overview($0) }) else { return }
            for queue in queues {
                Gauge(label: "chat_queue_waiting", dimensions: [("department", queue.departmentId)]).record(Double(queue.waiting))
                Gauge(label: "chat_queue_longest_wait_seconds", dimensions: [("department", queue.departmentId)]).record(queue.longestWaitSeconds)
            }
        }
        let socket = RealtimeSocket(operations: operations, signer: signer, hub: hub, allowedOrigins: configuration.allowedOrigins, logger: logger)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: HTTP1WebSocketUpgradeChannel.Configuration(ws: .init(maxFrameSize: 1 << 16))) { request, _, _ in
                socket.shouldUpgrade(request)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "livechat-gateway"),
            onServerRunning: { channel in
                logger.info("gateway listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        let views = ConsumerLoop(
            name: "views", topics: [.chatConversations, .presenceAgents, .presenceDepartments, .gatewayReplies, .chatSignals, .accountsDirectory,
                                  .departmentSettings],
            mode: .allPartitions,
            store: store, common: configuration.common, applier: GatewayViewApplier(hub: hub, replies: replies, viewCommits: viewCommits, store: store), outbox: nil,
            keyring: keyring, health: context.health, logger: logger)
        // Shut down in reverse: HTTP drains first, the producer flushes last.
        let heartbeat = PresenceHeartbeat(reporter: presence, interval: .seconds(configuration.presenceHeartbeatSeconds))
        return [ProducerService(producer: producer), keyring.loop(health: context.health), views, heartbeat, app]
    }

    /// Tells every presence partition that this instance's earlier connections are gone.
    /// Enqueued before the first socket opens, so it precedes this instance's new connections.
    /// Returns the partition count of `presence.commands`.
    static func announceStart(producer: KafkaProducer, gatewayID: String, logger: Logger) async throws -> Int32 {
        var attempt = 0
        while true {
            do {
                let partitions = try await producer.partitionCount(topic: Topic.presenceCommands.name)
                let envelope = Envelope(producer: gatewayID, event: .gatewayStarted(GatewayStarted(gatewayId: gatewayID)))
                for partition in 0..<partitions {
                    try producer.enqueue(WireRecord(topic: .presenceCommands, key: gatewayID, envelope: envelope, partition: partition).kafkaRecord)
                }
                return partitions
            } catch {
                attempt += 1
                guard attempt < 60 else { throw error }
                logger.warning("broker not reachable yet; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// A random signing secret kept in the data folder (mode 0600), made on first start.
    static func localSecret(in directory: String) throws -> String {
        let path = "\(directory)/gateway-token.secret"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), existing.utf8.count >= 32 {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        _ = FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        return secret
    }
}
