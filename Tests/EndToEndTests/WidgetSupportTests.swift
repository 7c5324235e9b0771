import ChatDevKit
import Foundation
import Testing

/// What a widget on a customer's site needs from the gateway: CORS for allowed origins only,
/// and live department status before the visitor has an identity.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct WidgetSupportTests {
    @Test func allowedOriginsGetCORSAndWatchersSeeDepartmentsOpenAndClose() async throws {
        // The test's WebSocket client always adds an Origin of its own (ws://127.0.0.1) next to
        // the one given, so that one is allowed too; browsers send a single Origin.
        try await RunningSystem.with(environment: ["GATEWAY_ALLOWED_ORIGINS": "https://shop.example, ws://127.0.0.1"]) { system in
            let client = system.client
            let preflight = try await client.request("OPTIONS", "/api/v1/chats", headers: [
                "Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"])
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == "https://shop.example")
            #expect(preflight.headers["access-control-allow-headers"]?.contains("Authorization") == true)
            let read = try await client.request("GET", "/api/v1/departments", headers: ["Origin": "https://shop.example"])
            #expect(read.headers["access-control-allow-origin"] == "https://shop.example")
            let foreign = try await client.request("GET", "/api/v1/departments", headers: ["Origin": "https://evil.example"])
            #expect(foreign.headers["access-control-allow-origin"] == nil, "browsers on other sites cannot read the answer")
            let refusedSocket = try await client.socket(token: nil, origin: "https://evil.example")
            #expect(try await refusedSocket.next(type: "error")["code"]?.string == "origin_not_allowed")

            // A watcher (no token yet) sees the department open and close, live.
            let watcher = try await client.socket(token: nil, origin: "https://shop.example")
            let hello = try await watcher.next(type: "hello")
            #expect(hello["role"]?.string == "watcher")
            #expect(hello["departments"]?.array.first { $0["departmentId"]?.string == "support" }?["open"]?.bool == false)
            let agent = try await system.connectAgent("alice")
            _ = try await watcher.next { $0["type"]?.string == "department.updated" && $0["department"]?["departmentId"]?.string == "support" && $0["department"]?["open"]?.bool == true }
            await agent.socket.send(["type": "availability.set", "available": false])
            _ = try await watcher.next { $0["type"]?.string == "department.updated" && $0["department"]?["departmentId"]?.string == "support" && $0["department"]?["open"]?.bool == false }
            #expect(await watcher.received.allSatisfy { ["hello", "department.updated"].contains($0["type"]?.string ?? "") }, "watchers get nothing else")
        }
    }
}
