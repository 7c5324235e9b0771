import ArchiverDelivery
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A Hummingbird server on 127.0.0.1 that checks each webhook's signature and answers
/// 500 to the first `failFirst` requests on POST /hook, 200 after that (404 elsewhere).
public final class WebhookReceiver: Sendable {
    public struct Seen: Sendable {
        public var deliveryID: String?
        public var event: String?
        public var contentType: String?
        public var userAgent: String?
        public var timestamp: Int?
        public var signatureValid: Bool
        public var body: [UInt8]
    }

    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, Never>
    private let seen: Recorder

    final class Recorder: Sendable {
        let state = Mutex<[Seen]>([])
    }

    private init(port: Int, group: ServiceGroup, task: Task<Void, Never>, seen: Recorder) {
        self.port = port
        self.group = group
        self.task = task
        self.seen = seen
    }

    public var requests: [Seen] { seen.state.withLock { $0 } }

    public static func start(secret: String, failFirst: Int = 0, port: Int = 0) async throws -> WebhookReceiver {
        let recorder = Recorder()
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = Array(buffer: try await request.body.collect(upTo: 1 << 20))
            let header = { (name: String) in request.headers.first { $0.name.rawName.lowercased() == name.lowercased() }?.value }
            let timestamp = header("X-Livechat-Timestamp").flatMap { Int($0) }
            let valid = timestamp.map { header("X-Livechat-Signature") == WebhookClient.signature(secret: secret, timestamp: $0, body: body) } ?? false
            let seen = Seen(deliveryID: header("X-Livechat-Delivery"), event: header("X-Livechat-Event"), contentType: header("Content-Type"),
                            userAgent: header("User-Agent"), timestamp: timestamp, signatureValid: valid, body: body)
            let count = recorder.state.withLock { state in
                state.append(seen)
                return state.count
            }
            return count <= failFirst ? .internalServerError : .ok
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: Logger(label: "webhook-receiver", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let group = ServiceGroup(services: [app], logger: Logger(label: "webhook-receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task {
            try? await group.run()
            portContinuation.finish()
        }
        guard let bound = await ports.first(where: { _ in true }), bound != 0 else {
            task.cancel()
            throw ReceiverError()
        }
        return WebhookReceiver(port: bound, group: group, task: task, seen: recorder)
    }

    public func stop() async {
        await group.triggerGracefulShutdown()
        await task.value
    }
}

/// The receiver could not bind its port.
public struct ReceiverError: Error {}
