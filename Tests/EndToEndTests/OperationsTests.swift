import ChatDevKit
import Foundation
import Testing

/// Health, readiness and metrics of every service, and configuration errors at start.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OperationsTests {
    @Test func everyServiceAnswersHealthReadinessAndPrometheusMetrics() async throws {
        try await RunningSystem.with { system in
            // Some traffic, so counters have values.
            let agent = try await system.connectAgent("alice")
            let visitor = try await system.client.visitor(named: "Metrics")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            _ = try await system.client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)

            for component in [DevCluster.Component.gateway, .router, .presence, .archiver] {
                let ops = ChatClient(baseURL: "http://127.0.0.1:\(system.cluster.opsPorts[component]!)")
                let health = try await ops.request("GET", "/healthz")
                #expect(health.status == 200, "\(component.rawValue) /healthz")
                try await eventually("\(component.rawValue) ready") {
                    try await ops.request("GET", "/readyz").status == 200
                }
                let ready = try await ops.request("GET", "/readyz")
                #expect(ready.body["ready"]?.bool == true)
                #expect(ready.body["checks"]?["store"]?.bool == true)

                let metrics = try await ops.request("GET", "/metrics")
                #expect(metrics.status == 200)
                let families = try parsePrometheus(metrics.text)
                #expect(families.contains("chat_records_consumed"), "\(component.rawValue) reports consumed records: \(families)")
                #expect(families.contains("chat_store_commit_seconds"))
                if component == .gateway {
                    #expect(families.isSuperset(of: ["chat_websocket_connections", "chat_queue_waiting", "chat_queue_longest_wait_seconds"]))
                } else if component != .archiver {
                    #expect(families.contains("chat_records_produced"), "\(component.rawValue) reports produced records")
                }
                if component == .router {
                    #expect(families.isSuperset(of: ["chat_assignments", "chat_queue_wait_seconds"]), "the router reports assignments and queue waits: \(families)")
                }
            }
        }
    }

    /// Families in a Prometheus text exposition, read by the reference Python parser.
    func parsePrometheus(_ text: String) throws -> Set<String> {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n"
            + "print('\\n'.join(f.name for f in p(open(sys.argv[1]).read())))"
        let (status, output) = try runProcess("/usr/bin/env", ["python3", "-c", script, file.path])
        guard status == 0 else { throw ClientError("prometheus_client could not parse /metrics: \(output)") }
        return Set(output.split(separator: "\n").map(String.init))
    }

    @Test(arguments: [
        ("router", "CHAT_KAFKA_FETCH_WAIT_MS", "soon"),
        ("presence", "PRESENCE_GRACE_SECONDS", "-3"),
        ("archiver", "CHAT_LOG_FORMAT", "xml"),
        ("gateway", "GATEWAY_TOKEN_SECRET", "short"),
        ("gateway", "CHAT_OPS_PORT", "70000"),
    ])
    func aBadEnvironmentValueStopsTheServiceNamingTheVariable(_ service: String, _ variable: String, _ value: String) throws {
        let binary = DevCluster.defaultBinDirectory().appendingPathComponent(service).path
        let (status, output) = try runProcess(binary, [], environment: [variable: value, "CHAT_KAFKA_BOOTSTRAP": "127.0.0.1:1"])
        #expect(status == 2)
        #expect(output.contains(variable), "the message names \(variable): \(output)")
    }
}

/// Request ids in logs, and a stop that keeps its time bound even when the broker is gone.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct OperationsLoggingAndShutdownTests {
    @Test func aRequestIdFollowsTheRequestIntoTheRoutersDecisions() async throws {
        try await RunningSystem.with(environment: ["CHAT_LOG_FORMAT": "json"]) { system in
            let agent = try await system.connectAgent("alice")
            let visitor = try await system.client.visitor(named: "Spur")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            let requestID = "trace-\(UUID().uuidString.prefix(8))"
            let take = try await system.client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token, headers: ["X-Request-Id": requestID])
            #expect(take.status == 200)
            #expect(take.headers["x-request-id"] == requestID, "the response echoes the request id")
            let unknown = try await system.client.request("GET", "/api/v1/chats/not-a-chat!", token: agent.token)
            #expect(unknown.headers["x-request-id"]?.isEmpty == false, "errors carry a request id too")

            // JSON log lines carry their fields under "metadata".
            func lines(_ component: DevCluster.Component) -> [[String: Any]] {
                system.log(component).split(separator: "\n").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["metadata"] as? [String: Any]
                }
            }
            try await eventually("the gateway logs the request, the router its decision, with one id") {
                let access = lines(.gateway).first { ($0["requestId"] as? String) == requestID }
                let decision = lines(.router).first { ($0["correlationId"] as? String) == requestID && ($0["event"] as? String) == "chat.assigned" }
                guard let access, decision != nil else { return false }
                return access["path"] as? String == "/api/v1/chats/\(chatId)/take" && access["status"] as? String == "200"
            }
            // Tokens travel in query strings of socket URLs; access logs leave queries out.
            #expect(!system.log(.gateway).contains(agent.token))
        }
    }

    @Test func servicesStopWithinTheirBoundWhileTheBrokerIsDown() async throws {
        try await RunningSystem.with(environment: ["CHAT_SHUTDOWN_TIMEOUT_SECONDS": "2"]) { system in
            let agent = try await system.connectAgent("alice")
            let visitor = try await system.client.visitor(named: "Abschied")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            _ = try await system.client.request("POST", "/api/v1/chats/\(chatId)/take", token: agent.token)
            system.cluster.signal(.broker, SIGUSR1)
            // Work that cannot be delivered while the broker is down: the gateway's producer
            // holds it, and the request waits for a delivery that will not come.
            let client = system.client
            let pending = Task { try? await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                                           json: ["clientMessageId": "last", "text": "still there?"]) }
            defer { pending.cancel() }
            try await Task.sleep(for: .milliseconds(500))
            for component in [DevCluster.Component.gateway, .router, .presence, .archiver] {
                let started = ContinuousClock.now
                system.cluster.signal(component, SIGTERM)
                while system.cluster.isRunning(component), ContinuousClock.now - started < .seconds(30) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let took = ContinuousClock.now - started
                // 2 s for the ordered stop, then at most 5 s of cancellation.
                #expect(took < .seconds(9), "\(component.rawValue) took \(took) to stop")
                #expect(!system.cluster.isRunning(component))
            }
            _ = agent
        }
    }
}
