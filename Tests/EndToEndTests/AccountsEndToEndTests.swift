import ChatDevKit
import ChatWire
import Foundation
import GatewayCore
import Testing

/// B1 accounts (first admin by CLI, registration, approval, passwords, sessions, sign-in
/// limits), B2 away after idle, supervisors acting for agents, and the authorization matrix
/// of every staff endpoint against every kind of caller, through the real services.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct AccountsEndToEndTests {
    static let secret = "accounts-test-secret-0123456789abcdef"
    static let environment = [
        "GATEWAY_TOKEN_SECRET": secret,
        "GATEWAY_BCRYPT_COST": "4",
        "PRESENCE_GRACE_SECONDS": "30",
        "PRESENCE_AGENTS": [TestAccounts.entry("alice", name: "Alice Adams", departments: ["support", "sales"]),
                            TestAccounts.entry("bob", name: "Bob Berg", departments: ["support"]),
                            TestAccounts.entry("sam", name: "Sam Supervisor", departments: ["support"], roles: ["supervisor"]),
                            TestAccounts.entry("sally", name: "Sally Sales Lead", departments: ["sales"], roles: ["supervisor"])].joined(separator: ";"),
    ]

    /// `chatctl create-admin`, as an operator runs it, with the password in a file.
    func createAdmin(_ system: RunningSystem, login: String = "root", password: String) throws -> (status: Int32, output: String) {
        let file = system.cluster.options.dataDirectory.appendingPathComponent("admin-password-\(login)")
        try Data((password + "\n").utf8).write(to: file)
        let process = Process()
        process.executableURL = system.cluster.options.binDirectory.appendingPathComponent("chatctl")
        process.arguments = ["create-admin", "--login", login, "--name", "Root Admin", "--departments", "support,sales", "--password-file", file.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["CHAT_KAFKA_BOOTSTRAP": system.cluster.bootstrap ?? ""]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    func signIn(_ system: RunningSystem, _ login: String, _ password: String) async throws -> ChatClient.Reply {
        try await system.client.request("POST", "/api/v1/agents/sessions", json: ["login": login, "password": password])
    }

    @Test func registrationApprovalSessionsAndSignInLimits() async throws {
        try await RunningSystem.with(environment: Self.environment) { system in
            let client = system.client
            // The first admin comes from the CLI; a second run with the same name changes nothing.
            let created = try createAdmin(system, password: "root-password-1")
            #expect(created.status == 0, "\(created.output)")
            let again = try createAdmin(system, password: "other-password")
            #expect(again.status != 0 && again.output.contains("taken"), "\(again.output)")
            let admin = try await eventuallyValue("the admin signs in") { () -> String? in
                let reply = try await signIn(system, "root", "root-password-1")
                return reply.status == 201 ? reply.body["token"]?.string : nil
            }

            // Registration: pending, refused sign-in, then approved by the admin.
            let weak = try await client.request("POST", "/api/v1/accounts", json: ["login": "carol", "displayName": "Carol", "password": "short"])
            #expect(weak.status == 422)
            let registered = try await client.request("POST", "/api/v1/accounts", json: ["login": "carol", "displayName": "Carol Cho", "password": "carol-password"])
            #expect(registered.status == 202, "\(registered.text)")
            let registrationId = try #require(registered.body["registration"]?["registrationId"]?.string)
            #expect(registered.body["registration"]?["status"]?.string == "pending")
            let taken = try await client.request("POST", "/api/v1/accounts", json: ["login": "carol", "displayName": "Other", "password": "other-password"])
            #expect(taken.status == 409)
            #expect(try await signIn(system, "carol", "carol-password").body["error"]?["code"]?.string == "account_pending")
            let listed = try await client.request("GET", "/api/v1/accounts", token: admin)
            #expect(listed.body["accounts"]?.array.contains { $0["agentId"]?.string == "carol" && $0["status"]?.string == "pending" } == true)
            #expect(!listed.text.contains("$2"), "no password hash leaves the gateway")
            let approved = try await client.request("PATCH", "/api/v1/accounts/carol", token: admin,
                                                    json: ["status": "active", "roles": ["agent"], "departmentIds": ["sales"]])
            #expect(approved.status == 200, "\(approved.text)")
            #expect(try await client.request("GET", "/api/v1/registrations/\(registrationId)").body["registration"]?["status"]?.string == "active")
            let carol = try await client.agent("carol", password: "carol-password")
            let carolSocket = try await client.socket(token: carol)
            _ = try await carolSocket.next(type: "hello")
            try await system.waitForDepartment("sales", open: true)

            // Wrong passwords: the same answer as an unknown name, then the name is locked.
            #expect(try await signIn(system, "nobody", "whatever-1").status == 401)
            for _ in 0..<5 { #expect(try await signIn(system, "bob", "wrong-password").status == 401) }
            let locked = try await signIn(system, "bob", TestAccounts.password)
            #expect(locked.status == 429 && locked.body["error"]?["code"]?.string == "too_many_attempts")

            // Signing out ends that session (token and socket), not the account.
            let signOut = try await client.request("DELETE", "/api/v1/agents/sessions/current", token: carol)
            #expect(signOut.status == 204)
            #expect(try await carolSocket.next(type: "error")["code"]?.string == "session_ended")
            let afterSignOut = try await client.request("GET", "/api/v1/agents/me", token: carol)
            #expect(afterSignOut.status == 401 && afterSignOut.body["error"]?["code"]?.string == "session_ended")
            try await system.waitForDepartment("sales", open: false)
            let carolAgain = try await client.agent("carol", password: "carol-password")
            #expect(try await client.request("GET", "/api/v1/agents/me", token: carolAgain).body["account"]?["roles"]?.array.map { $0.string } == ["agent"])

            // A new password: the current one must match; every older session ends.
            let wrongCurrent = try await client.request("PUT", "/api/v1/agents/me/password", token: carolAgain,
                                                        json: ["currentPassword": "not-it-at-all", "newPassword": "carol-password-2"])
            #expect(wrongCurrent.status == 403 && wrongCurrent.body["error"]?["code"]?.string == "wrong_password")
            let changed = try await client.request("PUT", "/api/v1/agents/me/password", token: carolAgain,
                                                   json: ["currentPassword": "carol-password", "newPassword": "carol-password-2"])
            #expect(changed.status == 200, "\(changed.text)")
            let carolNew = try #require(changed.body["token"]?.string)
            #expect(try await client.request("GET", "/api/v1/agents/me", token: carolAgain).status == 401)
            #expect(try await client.request("GET", "/api/v1/agents/me", token: carolNew).status == 200)
            #expect(try await signIn(system, "carol", "carol-password").status == 401)
            #expect(try await signIn(system, "carol", "carol-password-2").status == 201)

            // Disabling: every session ends and sign-in is refused; the admin cannot disable themselves.
            #expect(try await client.request("PATCH", "/api/v1/accounts/root", token: admin, json: ["status": "disabled"]).status == 409)
            #expect(try await client.request("PATCH", "/api/v1/accounts/carol", token: admin, json: ["status": "disabled"]).status == 200)
            #expect(try await client.request("GET", "/api/v1/agents/me", token: carolNew).status == 401)
            #expect(try await signIn(system, "carol", "carol-password-2").body["error"]?["code"]?.string == "account_disabled")
            #expect(try await client.request("PATCH", "/api/v1/accounts/carol", token: admin, json: ["status": "pending"]).status == 422)
        }
    }

    @Test func idleAgentsGoAwayAndActivityBringsThemBack() async throws {
        try await RunningSystem.with(environment: Self.environment.merging(["PRESENCE_AWAY_AFTER_MINUTES": "0.05"]) { $1 }) { system in
            let client = system.client
            let (token, socket) = try await system.connectAgent("bob")
            func state() async throws -> String? {
                try await client.request("GET", "/api/v1/people", token: token).body["people"]?.array.first { $0["agentId"]?.string == "bob" }?["state"]?.string
            }
            // 3 s without activity: away, and the department's button goes.
            try await system.waitForDepartment("support", open: false, timeout: .seconds(15))
            #expect(try await state() == "away")
            await socket.send(["type": "activity"])
            try await system.waitForDepartment("support", open: true, timeout: .seconds(5))
            #expect(try await state() == "available")
            // The per-account setting: 0 = never away.
            #expect(try await client.request("PUT", "/api/v1/agents/me/settings", token: token, json: ["awayAfterMinutes": 0]).status == 200)
            try await Task.sleep(for: .seconds(4))
            #expect(try await state() == "available")
        }
    }

    @Test func supervisorsActForAgentsOfTheirDepartments() async throws {
        try await RunningSystem.with(environment: Self.environment) { system in
            let client = system.client
            let sam = try await client.agent("sam")
            let sally = try await client.agent("sally")
            let (bob, bobSocket) = try await system.connectAgent("bob")
            let visitor = try await client.visitor(named: "Vera")
            let chatId = try await system.startChat(visitorToken: visitor.token)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: bob).status == 200)
            // Supervisors see the overview of their departments only.
            let overview = try await client.request("GET", "/api/v1/queues", token: sam)
            #expect(overview.body["queues"]?.array.compactMap { $0["departmentId"]?.string } == ["support"])
            #expect(overview.body["queues"]?.array.first?["ongoing"]?.int == 1)
            // Supervisors take no chats and have no availability.
            #expect(try await client.request("PUT", "/api/v1/agents/me/availability", token: sam, json: ["available": true]).status == 403)
            // Queue log-in for an agent: only in the supervisor's departments.
            #expect(try await client.request("PUT", "/api/v1/agents/bob/queues", token: sally, json: ["departmentIds": [String]()]).status == 403)
            #expect(try await client.request("PUT", "/api/v1/agents/bob/queues", token: sam, json: ["departmentIds": [String]()]).status == 202)
            try await system.waitForDepartment("support", open: false)
            #expect(try await client.request("PUT", "/api/v1/agents/bob/queues", token: bob, json: ["departmentIds": ["support"]]).status == 403,
                    "an agent is not a supervisor")
            #expect(try await client.request("PUT", "/api/v1/agents/bob/queues", token: sam, json: ["departmentIds": ["support"]]).status == 202)
            try await system.waitForDepartment("support", open: true)
            // Signing an agent out: sessions end, offline at once, their chat back in the queue.
            #expect(try await client.request("POST", "/api/v1/agents/bob/sign-out", token: sally).status == 403)
            #expect(try await client.request("POST", "/api/v1/agents/bob/sign-out", token: sam).status == 204)
            #expect(try await bobSocket.next(type: "error")["code"]?.string == "session_ended")
            try await eventually("bob's chat back in the queue") {
                try await client.request("GET", "/api/v1/chats/\(chatId)", token: sam).body["chat"]?["status"]?.string == "queued"
            }
            #expect(try await client.request("GET", "/api/v1/queue", token: bob).status == 401)
        }
    }

    @Test func everyStaffEndpointAgainstEveryKindOfCaller() async throws {
        try await RunningSystem.with(environment: Self.environment) { system in
            let client = system.client
            #expect(try createAdmin(system, password: "root-password-1").status == 0)
            let admin = try await eventuallyValue("the admin signs in") { () -> String? in
                let reply = try await signIn(system, "root", "root-password-1")
                return reply.status == 201 ? reply.body["token"]?.string : nil
            }
            let alice = try await client.agent("alice")
            let sam = try await client.agent("sam")
            let visitor = try await client.visitor(named: "Vic").token
            let signer = AccessTokenSigner(secret: Self.secret, lifetime: 3_600)
            let expired = signer.issue(for: Caller(role: .agent, id: "alice", displayName: "A", sessionId: "s", issuedAt: Date(timeIntervalSinceNow: -7_200)),
                                       expiresAt: Date(timeIntervalSinceNow: -3_600))
            // Well signed, but a session the directory never issued after the account's start.
            let unknownSession = signer.issue(for: Caller(role: .agent, id: "alice", displayName: "A", sessionId: "made-up", issuedAt: Date()))
            let forged = String(alice.dropLast(3)) + "abc"
            let unknownAccount = signer.issue(for: Caller(role: .agent, id: "mallory", displayName: "M", sessionId: "s", issuedAt: Date()))
            #expect(try await client.request("GET", "/api/v1/agents/me", token: unknownSession).status == 200,
                    "sessions are revoked explicitly; a good signature on an active account is a session")

            struct Endpoint {
                var method: String
                var path: String
                var body: [String: any Sendable]?
                /// Expected status per caller: admin, supervisor, agent, visitor.
                var expected: [String: Int]
            }
            let endpoints = [
                Endpoint(method: "GET", path: "/api/v1/accounts", expected: ["admin": 200, "supervisor": 403, "agent": 403, "visitor": 403]),
                Endpoint(method: "PATCH", path: "/api/v1/accounts/bob", body: ["maxChats": 3],
                         expected: ["admin": 200, "supervisor": 403, "agent": 403, "visitor": 403]),
                Endpoint(method: "GET", path: "/api/v1/agents/me", expected: ["admin": 200, "supervisor": 200, "agent": 200, "visitor": 403]),
                Endpoint(method: "PUT", path: "/api/v1/agents/me/settings", body: ["awayAfterMinutes": 10],
                         expected: ["admin": 200, "supervisor": 200, "agent": 200, "visitor": 403]),
                Endpoint(method: "GET", path: "/api/v1/queues", expected: ["admin": 200, "supervisor": 200, "agent": 200, "visitor": 403]),
                Endpoint(method: "GET", path: "/api/v1/queue", expected: ["admin": 200, "supervisor": 200, "agent": 200, "visitor": 403]),
                Endpoint(method: "GET", path: "/api/v1/people", expected: ["admin": 200, "supervisor": 200, "agent": 200, "visitor": 403]),
                Endpoint(method: "PUT", path: "/api/v1/agents/bob/queues", body: ["departmentIds": ["support"]],
                         expected: ["admin": 202, "supervisor": 202, "agent": 403, "visitor": 403]),
                Endpoint(method: "PUT", path: "/api/v1/agents/me/availability", body: ["available": true],
                         expected: ["admin": 409, "supervisor": 403, "agent": 409, "visitor": 403]),
                Endpoint(method: "POST", path: "/api/v1/accounts/bob/revoke-sessions", expected: ["admin": 204, "supervisor": 403, "agent": 403, "visitor": 403]),
                Endpoint(method: "POST", path: "/api/v1/agents/bob/sign-out", expected: ["admin": 204, "supervisor": 204, "agent": 403, "visitor": 403]),
                // The visitor gets past authorization to the router, which answers that nobody is there.
                Endpoint(method: "POST", path: "/api/v1/chats", body: ["departmentId": "support"],
                         expected: ["admin": 403, "supervisor": 403, "agent": 403, "visitor": 409]),
            ]
            let callers = ["admin": admin, "supervisor": sam, "agent": alice, "visitor": visitor]
            func status(_ endpoint: Endpoint, _ token: String?) async throws -> Int {
                if let body = endpoint.body { return try await client.request(endpoint.method, endpoint.path, token: token, json: body).status }
                return try await client.request(endpoint.method, endpoint.path, token: token).status
            }
            for endpoint in endpoints {
                for bad in [nil, expired, forged, unknownAccount] {
                    #expect(try await status(endpoint, bad) == 401, "\(endpoint.method) \(endpoint.path) with a missing, expired or forged token")
                }
                for (role, token) in callers.sorted(by: { $0.key < $1.key }) {
                    #expect(try await status(endpoint, token) == endpoint.expected[role], "\(endpoint.method) \(endpoint.path) as \(role)")
                }
            }
            // Chats by role: a queued support chat. Everyone of the department (and admins)
            // sees it; only agents take it; a supervisor-only account may not, nor write in it.
            let (_, aliceSocket) = try await system.connectAgent("alice")
            let owner = try await client.visitor(named: "Owner")
            let chatId = try await system.startChat(visitorToken: owner.token)
            let stranger = try await client.visitor(named: "Stranger").token
            for (token, expected) in [(admin, 200), (sam, 200), (alice, 200), (owner.token, 200), (stranger, 404)] {
                #expect(try await client.request("GET", "/api/v1/chats/\(chatId)", token: token).status == expected)
            }
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: sam).status == 403, "supervisors do not take chats")
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: owner.token).status == 403)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/park", token: sam).status == 403)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: sam, json: ["clientMessageId": "s1", "text": "hi"]).status == 403)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice).status == 200)
            // WebSocket actions by role: the same rules as over HTTP.
            let samSocket = try await client.socket(token: sam)
            _ = try await samSocket.next(type: "hello")
            await samSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "s2", "text": "hi"])
            #expect(try await samSocket.next(type: "error")["code"]?.string == "not_participant")
            await samSocket.send(["type": "availability.set", "available": true])
            #expect(try await samSocket.next(type: "error")["code"]?.string == "forbidden")
            let strangerSocket = try await client.socket(token: stranger)
            _ = try await strangerSocket.next(type: "hello", timeout: .seconds(20))
            await strangerSocket.send(["type": "typing", "chatId": chatId, "typing": true])
            #expect(try await strangerSocket.next(type: "error", timeout: .seconds(20))["code"]?.string == "chat_not_found")
            await aliceSocket.send(["type": "message.send", "chatId": chatId, "clientMessageId": "a1", "text": "hello"])
            #expect(try await aliceSocket.next(type: "message.accepted")["clientMessageId"]?.string == "a1")

            // Sockets: expired and forged staff tokens are refused with the reason.
            for bad in [expired, forged] {
                let socket = try await client.socket(token: bad)
                #expect(try await socket.next(type: "error")["code"]?.string == "unauthorized")
            }
            // The sign-out route needs a staff session.
            #expect(try await client.request("DELETE", "/api/v1/agents/sessions/current", token: visitor).status == 403)
            #expect(try await client.request("DELETE", "/api/v1/agents/sessions/current").status == 401)
        }
    }
}
