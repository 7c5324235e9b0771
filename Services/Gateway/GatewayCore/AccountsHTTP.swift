import ChatWire
import Foundation
import Hummingbird

/// Accounts, sessions, admin and supervisor routes of the HTTP API (docs/openapi.yaml).
struct AccountsHTTP {
    let http: GatewayHTTP
    var operations: ChatOperations { http.operations }

    func register(on api: RouterGroup<BasicRequestContext>) {
        api.post("/accounts", use: registerAccount)
        api.get("/registrations/:registrationId", use: registration)
        api.get("/agents/me", use: me)
        api.delete("/agents/sessions/current", use: signOut)
        api.put("/agents/me/settings", use: settings)
        api.put("/agents/me/password", use: password)
        api.get("/accounts", use: accounts)
        api.patch("/accounts/:agentId", use: updateAccount)
        api.post("/accounts/:agentId/revoke-sessions", use: revokeSessions)
        api.put("/agents/:agentId/queues", use: setAgentQueues)
        api.post("/agents/:agentId/sign-out", use: signOutAgent)
    }

    struct Registration: Decodable {
        var login: String
        var displayName: String
        var password: String
    }

    /// B1: anyone may register; an admin approves before the account signs in.
    @Sendable func registerAccount(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await decode(Registration.self, from: request)
        let name = body.displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...80).contains(name.count) else { throw APIError.invalid("displayName must have 1 to 80 characters.") }
        let login = body.login.trimmingCharacters(in: .whitespaces).lowercased()
        return jsonResponse(["registration": try await operations.register(login: login, displayName: name, password: body.password)], status: .accepted)
    }

    @Sendable func registration(_ request: Request, context: BasicRequestContext) async throws -> Response {
        jsonResponse(["registration": try await operations.registration(id: try context.parameters.require("registrationId"))])
    }

    struct Me: Encodable {
        var account: AccountView
        var agent: AgentView?
    }

    @Sendable func me(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff have an account.") }
        let (account, agent) = try await operations.read { db in
            (try GatewayStore.account(db, id: caller.id), try GatewayStore.agent(db, id: caller.id))
        }
        guard let account else { throw APIError.unauthorized }
        return jsonResponse(Me(account: AccountView(account), agent: agent))
    }

    @Sendable func signOut(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try http.bearerToken(request)
        let caller = try await operations.authenticate(token: token)
        try await operations.signOut(caller, token: token)
        return Response(status: .noContent)
    }

    struct Settings: Decodable { var awayAfterMinutes: Double }

    @Sendable func settings(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let body = try await decode(Settings.self, from: request)
        return jsonResponse(["account": try await operations.setAwayAfter(minutes: body.awayAfterMinutes, caller: caller)])
    }

    struct PasswordChange: Decodable {
        var currentPassword: String
        var newPassword: String
    }

    /// A new password; every session ends and the answer is a new session.
    @Sendable func password(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let body = try await decode(PasswordChange.self, from: request)
        return jsonResponse(try await operations.changePassword(caller, current: body.currentPassword, new: body.newPassword))
    }

    // MARK: Admin

    @Sendable func accounts(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        return jsonResponse(["accounts": try await operations.accounts(for: caller)])
    }

    struct AccountChange: Decodable {
        var status: String?
        var roles: [String]?
        var departmentIds: [String]?
        var maxChats: Int?
        var awayAfterMinutes: Double?
    }

    @Sendable func updateAccount(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        try operations.requireRole(.admin, caller)
        let agentId = try context.parameters.require("agentId")
        let body = try await decode(AccountChange.self, from: request)
        let status = try body.status.map { text in
            guard let status = AccountStatus(rawValue: text), status != .pending else {
                throw APIError.invalid("status must be active, disabled or rejected.")
            }
            return status
        }
        let roles = try body.roles.map { names in
            try names.map { name in
                guard let role = StaffRole(rawValue: name) else { throw APIError.invalid("'\(name)' is not a role (agent, supervisor, admin).") }
                return role
            }
        }
        for id in body.departmentIds ?? [] where !WireID.isValid(id) { throw APIError.invalid("'\(id)' is not a valid department id.") }
        guard status != nil || roles != nil || body.departmentIds != nil || body.maxChats != nil || body.awayAfterMinutes != nil else {
            throw APIError.malformed("Give at least one of status, roles, departmentIds, maxChats, awayAfterMinutes.")
        }
        let change = AccountUpdateRequested(agentId: agentId, actorId: caller.id, status: status, roles: roles, departmentIds: body.departmentIds,
                                            maxChats: body.maxChats, awayAfterMinutes: body.awayAfterMinutes)
        return jsonResponse(["account": try await operations.updateAccount(change, by: caller)])
    }

    @Sendable func revokeSessions(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        try await operations.revokeSessions(of: try context.parameters.require("agentId"), by: caller)
        return Response(status: .noContent)
    }

    // MARK: Supervisors

    @Sendable func setAgentQueues(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let body = try await decode(GatewayHTTP.Queues.self, from: request)
        for id in body.departmentIds where !WireID.isValid(id) { throw APIError.invalid("'\(id)' is not a valid department id.") }
        try await operations.setQueues(body.departmentIds, of: try context.parameters.require("agentId"), by: caller)
        return jsonResponse(["accepted": true], status: .accepted)
    }

    @Sendable func signOutAgent(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        try await operations.signOutAgent(try context.parameters.require("agentId"), by: caller)
        return Response(status: .noContent)
    }
}
