import ChatRuntime
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `/healthz` (the process runs), `/readyz` (every readiness check passes: store open,
/// partitions assigned...) and `/metrics` (Prometheus text format).
public enum OpsRoutes {
    public static func register(on router: Router<BasicRequestContext>, context: RuntimeContext,
                                beforeScrape: @escaping @Sendable () async -> Void = {}) {
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get("/readyz") { _, _ in
            let report = context.health.report
            let ready = context.health.isReady
            let body = try JSONSerialization.data(withJSONObject: ["ready": ready, "checks": report], options: [.sortedKeys])
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/metrics") { _, _ in
            await beforeScrape()
            var text: [UInt8] = []
            context.metrics.emit(into: &text)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }

    /// A small HTTP server with only the ops routes, for services without a public API.
    public static func server(host: String, port: Int, context: RuntimeContext) -> some Service {
        let router = Router()
        register(on: router, context: context)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "livechat-ops"),
            onServerRunning: { channel in
                context.logger.info("ops endpoints listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: context.logger)
    }
}
