import ChatRuntime
import ChatWire
import Foundation
import GRDB
import Hummingbird
import HummingbirdBcrypt
import Synchronization

/// Passwords: bcrypt, slow and salted on purpose, computed off the cooperative pool.
enum Passwords {
    static let lengths = 8...128

    static func validate(_ password: String) throws {
        guard lengths.contains(password.count) else {
            throw APIError.invalid("A password needs \(lengths.lowerBound) to \(lengths.upperBound) characters.")
        }
    }

    static func hash(_ password: String, cost: Int) async throws -> String {
        try await OffPool.run { Bcrypt.hash(password, cost: UInt8(cost)) }
    }

    static func verify(_ password: String, hash: String) async throws -> Bool {
        try await OffPool.run { Bcrypt.verify(password, hash: hash) }
    }
}

/// Failed sign-ins per login name: after `limit` failures within `window` the name is
/// refused until the oldest of them is older than the window. In memory, per gateway
/// instance (a balancer in front limits per client address).
final class LoginThrottle: Sendable {
    private let failures = Mutex<[String: [Date]]>([:])
    let limit: Int
    let window: TimeInterval

    init(limit: Int, window: TimeInterval) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until the name may try again; nil when it may now.
    func retryAfter(_ login: String, now: Date = Date()) -> Int? {
        failures.withLock { failures in
            let recent = (failures[login] ?? []).filter { now.timeIntervalSince($0) < window }
            failures[login] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    func failed(_ login: String, now: Date = Date()) {
        failures.withLock { $0[login, default: []].append(now) }
    }

    func succeeded(_ login: String) {
        failures.withLock { $0[login] = nil }
    }
}

/// An account as admins see it (never the password hash).
public struct AccountView: Codable, Sendable, Equatable {
    public var agentId: String
    public var displayName: String
    public var status: String
    public var roles: [String]
    public var departmentIds: [String]
    public var maxChats: Int?
    public var awayAfterMinutes: Double
    public var registeredAt: Date
    public var updatedBy: String?

    init(_ account: AccountUpdated) {
        agentId = account.agentId
        displayName = account.displayName
        status = account.status.rawValue
        roles = account.roles.map(\.rawValue)
        departmentIds = account.departmentIds
        maxChats = account.maxChats
        awayAfterMinutes = account.awayAfterMinutes
        registeredAt = account.registeredAt
        updatedBy = account.updatedBy
    }
}

/// What a registrant is told about their registration.
public struct RegistrationView: Codable, Sendable, Equatable {
    public var registrationId: String
    public var login: String
    /// `pending` (waiting for an admin), `active` (approved: sign in), `rejected`, `disabled`.
    public var status: String
}

/// A signed-in staff member's session.
public struct StaffSession: Codable, Sendable, Equatable {
    public var token: String
    public var role = "agent"
    public var id: String
    public var displayName: String
    public var roles: [String]
    public var departmentIds: [String]
    public var expiresAt: Date
}

extension GatewayStore {
    static func account(_ db: Database, id: String) throws -> AccountUpdated? {
        try accounts(db, where: "id = ?", [id]).first
    }

    static func accounts(_ db: Database) throws -> [AccountUpdated] {
        try accounts(db, where: "1", [])
    }

    static func account(_ db: Database, registrationId: String) throws -> AccountUpdated? {
        try accounts(db, where: "registration_id = ?", [registrationId]).first
    }

    /// Stored records as they were published; one this build cannot read is left out.
    private static func accounts(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> [AccountUpdated] {
        try String.fetchAll(db, sql: "SELECT record FROM accounts WHERE \(condition) ORDER BY id", arguments: arguments)
            .compactMap { try? WireCodec.decodeValue(AccountUpdated.self, from: Data($0.utf8)) }
    }

    static func saveAccount(_ account: AccountUpdated, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO accounts (id, registration_id, record) VALUES (?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET registration_id = excluded.registration_id, record = excluded.record
            """, arguments: [account.agentId, account.registrationId, String(decoding: try WireCodec.encodeValue(account), as: UTF8.self)])
    }
}

// MARK: Accounts, sessions and staff authorization

extension ChatOperations {
    /// The caller of a bearer token. Staff tokens must belong to an active account whose
    /// session was not ended; the caller's roles come from the directory, so role changes
    /// apply at once.
    func authenticate(token: String) async throws -> Caller {
        guard var caller = signer.verify(token) else { throw APIError.unauthorized }
        guard caller.role == .agent else { return caller }
        let agentId = caller.id
        guard let sessionId = caller.sessionId, let issuedAt = caller.issuedAt,
              let account = try await read({ try GatewayStore.account($0, id: agentId) }),
              account.accepts(sessionId: sessionId, issuedAt: issuedAt)
        else { throw APIError(.unauthorized, "session_ended", "Your session has ended; sign in again.") }
        caller.staffRoles = account.roles
        caller.displayName = account.displayName
        return caller
    }

    /// B1: a registration waits for an admin. Answered once the directory shows the outcome.
    func register(login: String, displayName: String, password: String) async throws -> RegistrationView {
        guard LoginName.isValid(login) else {
            throw APIError.invalid("A login name has 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.")
        }
        try Passwords.validate(password)
        if let existing = try await read({ try GatewayStore.account($0, id: login) }), existing.status != .rejected {
            throw APIError(.conflict, "login_taken", "The login name '\(login)' is taken; choose another.")
        }
        let registrationId = WireID.make()
        let hash = try await Passwords.hash(password, cost: configuration.bcryptCost)
        try await presence.command(agentId: login, .accountRegistrationRequested(AccountRegistrationRequested(
            agentId: login, displayName: displayName, passwordHash: hash, registrationId: registrationId)))
        guard let account = try await readUntilInView({ try GatewayStore.account($0, id: login) }, until: { $0.status != .rejected }) else {
            throw APIError.timeout
        }
        guard account.registrationId == registrationId else {
            throw APIError(.conflict, "login_taken", "The login name '\(login)' is taken; choose another.")
        }
        return RegistrationView(registrationId: registrationId, login: login, status: account.status.rawValue)
    }

    /// How a registration stands (the registrant polls it until an admin decided).
    func registration(id: String) async throws -> RegistrationView {
        guard WireID.isValid(id), let account = try await read({ try GatewayStore.account($0, registrationId: id) }) else {
            throw APIError(.notFound, "registration_not_found", "There is no such registration.")
        }
        return RegistrationView(registrationId: id, login: account.agentId, status: account.status.rawValue)
    }

    func signIn(login: String, password: String) async throws -> StaffSession {
        if let seconds = loginThrottle.retryAfter(login) {
            throw APIError(.tooManyRequests, "too_many_attempts", "Too many failed sign-ins for '\(login)'; try again in \(seconds) s.")
        }
        let account = try await read { try GatewayStore.account($0, id: login) }
        // The same answer (and the same work) for an unknown name and a wrong password.
        let hash = account?.passwordHash ?? decoyHash
        let matches = try await Passwords.verify(password, hash: hash)
        guard let account, account.passwordHash != nil, matches else {
            loginThrottle.failed(login)
            throw APIError(.unauthorized, "wrong_credentials", "The login name or the password is wrong.")
        }
        switch account.status {
        case .active: break
        case .pending: throw APIError(.forbidden, "account_pending", "Your registration waits for an administrator's approval.")
        case .disabled: throw APIError(.forbidden, "account_disabled", "This account is disabled; ask an administrator.")
        case .rejected: throw APIError(.forbidden, "account_rejected", "This registration was not approved.")
        }
        loginThrottle.succeeded(login)
        let now = Date()
        let expiresAt = now.addingTimeInterval(TimeInterval(configuration.staffSessionSeconds))
        let caller = Caller(role: .agent, id: account.agentId, displayName: account.displayName, sessionId: WireID.make(), issuedAt: now)
        return StaffSession(token: signer.issue(for: caller, expiresAt: expiresAt), id: account.agentId, displayName: account.displayName,
                            roles: account.roles.map(\.rawValue), departmentIds: account.departmentIds, expiresAt: expiresAt)
    }

    /// The caller's own password: the current one must match. Every session of the account
    /// ends (a stolen token too); the caller gets a new one.
    func changePassword(_ caller: Caller, current: String, new: String) async throws -> StaffSession {
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff have a password.") }
        try Passwords.validate(new)
        let agentId = caller.id
        guard let account = try await read({ try GatewayStore.account($0, id: agentId) }), let hash = account.passwordHash,
              try await Passwords.verify(current, hash: hash)
        else {
            loginThrottle.failed(agentId)
            throw APIError(.forbidden, "wrong_password", "The current password is wrong.")
        }
        let newHash = try await Passwords.hash(new, cost: configuration.bcryptCost)
        try await presence.command(agentId: agentId, presence.envelope(.accountPasswordSet(AccountPasswordSet(agentId: agentId, passwordHash: newHash))))
        guard try await readUntilInView({ try GatewayStore.account($0, id: agentId) }, until: { $0.passwordHash == newHash }) != nil else {
            throw APIError.timeout
        }
        return try await signIn(login: agentId, password: new)
    }

    /// Ends the caller's session everywhere (every gateway checks the directory), and
    /// closes its sockets here; the agent goes offline when that was their last connection.
    func signOut(_ caller: Caller, token: String) async throws {
        guard caller.role == .agent, let sessionId = caller.sessionId else { throw APIError(.forbidden, "forbidden", "Only staff sessions sign out.") }
        let expiresAt = signer.verifyWithExpiry(token)?.expiresAt ?? Date()
        try await presence.command(agentId: caller.id, .sessionRevokeRequested(SessionRevokeRequested(
            agentId: caller.id, actorId: caller.id, sessionId: sessionId, expiresAt: expiresAt)))
        let agentId = caller.id
        let issuedAt = caller.issuedAt ?? Date()
        _ = try await readUntilInView({ try GatewayStore.account($0, id: agentId) }, until: { !$0.accepts(sessionId: sessionId, issuedAt: issuedAt) })
    }

    /// The departments whose chats, queues and people the caller sees: all for admins,
    /// their own for everyone else.
    func visibleDepartments(_ caller: Caller) async throws -> [String] {
        guard caller.role == .agent else { return [] }
        if caller.has(.admin) { return try await read { try GatewayStore.departments($0).map(\.departmentId) } }
        return try await agentDepartments(caller)
    }

    // MARK: Admin

    func requireRole(_ role: StaffRole, _ caller: Caller) throws {
        guard caller.has(role) else {
            throw APIError(.forbidden, "forbidden", "This needs the \(role.rawValue) role.")
        }
    }

    func accounts(for caller: Caller) async throws -> [AccountView] {
        try requireRole(.admin, caller)
        return try await read { try GatewayStore.accounts($0).filter { $0.status != .rejected }.map(AccountView.init) }
    }

    /// Approve, reject, disable, enable; roles, departments, maximum, away time.
    func updateAccount(_ change: AccountUpdateRequested, by caller: Caller) async throws -> AccountView {
        try requireRole(.admin, caller)
        guard let before = try await read({ try GatewayStore.account($0, id: change.agentId) }) else {
            throw APIError(.notFound, "account_not_found", "There is no account '\(change.agentId)'.")
        }
        if change.agentId == caller.id, change.status == .disabled || (change.roles.map { !$0.contains(.admin) } ?? false) {
            throw APIError(.conflict, "own_account", "Admins cannot disable themselves or drop their own admin role.")
        }
        if let status = change.status, !before.status.mayBecome(status) {
            throw APIError(.conflict, "invalid_status_change", "An account that is \(before.status.rawValue) cannot become \(status.rawValue).")
        }
        if let roles = change.roles, roles.isEmpty { throw APIError.invalid("An account needs at least one role.") }
        if let departments = change.departmentIds {
            let known = Set(try await read { try GatewayStore.departments($0).map(\.departmentId) })
            let unknown = Set(departments).subtracting(known)
            guard unknown.isEmpty else { throw APIError.invalid("There is no department \(unknown.sorted().joined(separator: ", ")).") }
        }
        if let maximum = change.maxChats, !AccountLimits.maxChats.contains(maximum) { throw APIError.invalid("maxChats must be 0 (none) to 100.") }
        if let minutes = change.awayAfterMinutes, !AccountLimits.awayAfterMinutes.contains(minutes) {
            throw APIError.invalid("awayAfterMinutes must be 0 (never) to 1440.")
        }
        try await presence.command(agentId: change.agentId, .accountUpdateRequested(change))
        let expected = before.applying(change)
        guard let after = try await readUntilInView({ try GatewayStore.account($0, id: change.agentId) }, until: { $0.hasSameSettings(as: expected) }) else {
            throw APIError.timeout
        }
        return AccountView(after)
    }

    /// Ends every session of the account (a lost laptop); the agent goes offline.
    func revokeSessions(of agentId: String, by caller: Caller) async throws {
        try requireRole(.admin, caller)
        try await endAllSessions(of: agentId, by: caller)
    }

    // MARK: Supervisors (B5)

    /// A supervisor signs an agent of one of their departments out: every session ends,
    /// the agent goes offline at once and the router returns their chats to the queue.
    func signOutAgent(_ agentId: String, by caller: Caller) async throws {
        try await requireSupervision(of: agentId, by: caller)
        try await endAllSessions(of: agentId, by: caller)
    }

    /// A supervisor logs an agent of their departments in to or out of queues. Only the
    /// supervisor's departments change; the agent's other queues stay as they are.
    func setQueues(_ departmentIds: [String], of agentId: String, by caller: Caller) async throws {
        let agent = try await requireSupervision(of: agentId, by: caller)
        let supervised = Set(try await visibleDepartments(caller))
        let outside = Set(departmentIds).subtracting(supervised.intersection(agent.departmentIds))
        guard outside.isEmpty else {
            throw APIError(.forbidden, "not_your_department", "You may log \(agentId) in to queues of your departments only, not \(outside.sorted().joined(separator: ", ")).")
        }
        let kept = agent.queues.filter { !supervised.contains($0) }
        do {
            try await presence.queues(AgentQueuesSet(agentId: agentId, departmentIds: agent.departmentIds.filter { kept.contains($0) || departmentIds.contains($0) }))
        } catch {
            throw APIError.unavailable
        }
    }

    @discardableResult
    private func requireSupervision(of agentId: String, by caller: Caller) async throws -> AgentView {
        guard caller.has(.supervisor) || caller.has(.admin) else {
            throw APIError(.forbidden, "forbidden", "This needs the supervisor role.")
        }
        guard WireID.isValid(agentId), let agent = try await read({ try GatewayStore.agent($0, id: agentId) }) else {
            throw APIError(.notFound, "agent_not_found", "There is no agent '\(agentId)'.")
        }
        let supervised = Set(try await visibleDepartments(caller))
        guard caller.has(.admin) || !supervised.isDisjoint(with: agent.departmentIds) else {
            throw APIError(.forbidden, "not_your_department", "\(agentId) works in none of your departments.")
        }
        return agent
    }

    /// Answered once the directory shows a later `sessionsNotBefore` than before (presence
    /// sets it by its own clock, so no clock here is compared with it).
    private func endAllSessions(of agentId: String, by caller: Caller) async throws {
        let before = try await read { try GatewayStore.account($0, id: agentId)?.sessionsNotBefore } ?? .distantPast
        try await presence.command(agentId: agentId, .sessionRevokeRequested(SessionRevokeRequested(
            agentId: agentId, actorId: caller.id, allSessions: true, endPresence: true)))
        guard try await readUntilInView({ try GatewayStore.account($0, id: agentId) }, until: { ($0.sessionsNotBefore ?? .distantPast) > before }) != nil else {
            throw APIError.timeout
        }
    }

    // MARK: Own settings and activity

    /// B2: the caller's own away time.
    func setAwayAfter(minutes: Double, caller: Caller) async throws -> AccountView {
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff have an away time.") }
        guard AccountLimits.awayAfterMinutes.contains(minutes) else { throw APIError.invalid("awayAfterMinutes must be 0 (never) to 1440.") }
        try await presence.command(agentId: caller.id, .accountUpdateRequested(AccountUpdateRequested(agentId: caller.id, actorId: caller.id, awayAfterMinutes: minutes)))
        guard let after = try await readUntilInView({ try GatewayStore.account($0, id: caller.id) }, until: { $0.awayAfterMinutes == minutes }) else {
            throw APIError.timeout
        }
        return AccountView(after)
    }

    /// The agent did something: presence hears of it at most every `activityInterval`, and
    /// at once while the agent shows as away.
    func noteActivity(of caller: Caller) async {
        guard caller.role == .agent else { return }
        let agentId = caller.id
        // The view is read only for activity the throttle holds back: an away agent's counts at once.
        if !activityThrottle.forward(true, key: agentId) {
            guard (try? await read({ try GatewayStore.agent($0, id: agentId)?.status })) == "away" else { return }
        }
        try? await presence.command(agentId: agentId, .agentActive(AgentActive(agentId: agentId)))
    }

}
