import Foundation

// MARK: Accounts (B1). Presence owns the directory; commands arrive on `presence.commands`
// (key: agent id = login name), the directory goes out on `accounts.directory`.

/// What a staff member may do. One account may hold several roles.
public enum StaffRole: String, Codable, Sendable, CaseIterable, Comparable {
    /// Takes chats of their departments.
    case agent
    /// Watches their departments' queues and logs their agents in and out.
    case supervisor
    /// Approves registrations, sets roles and departments.
    case admin

    public static func < (lhs: StaffRole, rhs: StaffRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public enum AccountStatus: String, Codable, Sendable {
    /// Registered, waiting for an admin: may not sign in.
    case pending
    case active
    /// Turned off by an admin: may not sign in; open sessions end.
    case disabled
    /// Registration refused: the login name is free again.
    case rejected
}

/// Login names are agent ids: 2 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
public enum LoginName {
    public static func isValid(_ value: String) -> Bool {
        guard (2...64).contains(value.utf8.count), let first = value.utf8.first,
              (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return value.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

/// Someone registers (from the console) or an operator creates an account (`chatctl
/// create-admin`, which comes already approved). The owner of the agent's partition
/// creates it unless the login name is taken; the gateway learns the outcome from
/// `accounts.directory` (the account carries this `registrationId`).
public struct AccountRegistrationRequested: Codable, Sendable, Equatable {
    public var agentId: String
    public var displayName: String
    /// bcrypt; the password itself never leaves the gateway or the CLI.
    public var passwordHash: String
    public var registrationId: String
    /// Set only by operators (CLI): the account is active at once, with these.
    public var approved: Bool?
    public var roles: [StaffRole]?
    public var departmentIds: [String]?
    public init(agentId: String, displayName: String, passwordHash: String, registrationId: String, approved: Bool? = nil,
                roles: [StaffRole]? = nil, departmentIds: [String]? = nil) {
        self.agentId = agentId
        self.displayName = displayName
        self.passwordHash = passwordHash
        self.registrationId = registrationId
        self.approved = approved
        self.roles = roles
        self.departmentIds = departmentIds
    }
}

/// An admin approves, rejects, disables or re-enables an account, or changes its roles,
/// departments, maximum of chats or away time. Absent fields stay as they are.
public struct AccountUpdateRequested: Codable, Sendable, Equatable {
    public var agentId: String
    /// The admin (or the account itself, for `awayAfterMinutes`).
    public var actorId: String
    public var status: AccountStatus?
    public var roles: [StaffRole]?
    public var departmentIds: [String]?
    /// 0 removes the account's own maximum (the department's applies).
    public var maxChats: Int?
    public var awayAfterMinutes: Double?
    public init(agentId: String, actorId: String, status: AccountStatus? = nil, roles: [StaffRole]? = nil, departmentIds: [String]? = nil,
                maxChats: Int? = nil, awayAfterMinutes: Double? = nil) {
        self.agentId = agentId
        self.actorId = actorId
        self.status = status
        self.roles = roles
        self.departmentIds = departmentIds
        self.maxChats = maxChats
        self.awayAfterMinutes = awayAfterMinutes
    }
}

/// Sessions end: one (sign-out) or all of an account's (`allSessions`, e.g. a supervisor
/// signing an agent out). With `endPresence` the agent goes offline at once, without the
/// grace period, and the router returns their chats to the queue.
public struct SessionRevokeRequested: Codable, Sendable, Equatable {
    public var agentId: String
    public var actorId: String
    public var sessionId: String?
    /// When the revoked session would have expired: it is forgotten after that.
    public var expiresAt: Date?
    public var allSessions: Bool?
    public var endPresence: Bool?
    public init(agentId: String, actorId: String, sessionId: String? = nil, expiresAt: Date? = nil, allSessions: Bool? = nil, endPresence: Bool? = nil) {
        self.agentId = agentId
        self.actorId = actorId
        self.sessionId = sessionId
        self.expiresAt = expiresAt
        self.allSessions = allSessions
        self.endPresence = endPresence
    }
}

/// The account's owner changed their password (the gateway checked the old one). Every
/// session issued before `occurredAt` of the record ends; the gateway hands the owner a
/// new one.
public struct AccountPasswordSet: Codable, Sendable, Equatable {
    public var agentId: String
    public var passwordHash: String
    public init(agentId: String, passwordHash: String) {
        self.agentId = agentId
        self.passwordHash = passwordHash
    }
}

/// The agent did something in the console (typed, clicked, sent): an away agent is
/// online again, and the idle clock (B2) starts over. Gateways send it at most every few
/// seconds per agent.
public struct AgentActive: Codable, Sendable, Equatable {
    public var agentId: String
    public init(agentId: String) { self.agentId = agentId }
}

public struct RevokedSession: Codable, Sendable, Equatable {
    public var sessionId: String
    public var expiresAt: Date
    public init(sessionId: String, expiresAt: Date) {
        self.sessionId = sessionId
        self.expiresAt = expiresAt
    }
}

/// An account as it is now (`accounts.directory`, compacted, key: agent id). Gateways
/// check passwords and sessions against it; presence instances keep every account.
public struct AccountUpdated: Codable, Sendable, Equatable {
    public var agentId: String
    public var displayName: String
    public var status: AccountStatus
    public var roles: [StaffRole]
    public var departmentIds: [String]
    public var maxChats: Int?
    /// Minutes without activity before the agent shows as away; 0: never.
    public var awayAfterMinutes: Double
    /// bcrypt; absent for accounts provisioned without a password (they cannot sign in).
    public var passwordHash: String?
    /// The registration that created the account.
    public var registrationId: String
    public var registeredAt: Date
    /// Sessions issued before this are over.
    public var sessionsNotBefore: Date?
    /// Single sessions ended before they expired; each is dropped once it would have expired.
    public var revokedSessions: [RevokedSession]
    /// Who changed it last (an admin's id, `self`, `operator`).
    public var updatedBy: String?

    public init(agentId: String, displayName: String, status: AccountStatus, roles: [StaffRole], departmentIds: [String], maxChats: Int? = nil,
                awayAfterMinutes: Double, passwordHash: String?, registrationId: String, registeredAt: Date, sessionsNotBefore: Date? = nil,
                revokedSessions: [RevokedSession] = [], updatedBy: String? = nil) {
        self.agentId = agentId
        self.displayName = displayName
        self.status = status
        self.roles = roles
        self.departmentIds = departmentIds
        self.maxChats = maxChats
        self.awayAfterMinutes = awayAfterMinutes
        self.passwordHash = passwordHash
        self.registrationId = registrationId
        self.registeredAt = registeredAt
        self.sessionsNotBefore = sessionsNotBefore
        self.revokedSessions = revokedSessions
        self.updatedBy = updatedBy
    }

    /// Whether a session issued at `issuedAt` is still good (the token's own expiry is
    /// checked by whoever signed it).
    public func accepts(sessionId: String, issuedAt: Date) -> Bool {
        guard status == .active else { return false }
        if let notBefore = sessionsNotBefore, issuedAt < notBefore { return false }
        return !revokedSessions.contains { $0.sessionId == sessionId }
    }
}

/// The ranges an account's settings may take, checked by the gateway (clear errors) and by
/// presence (the owner).
public enum AccountLimits {
    /// 0 removes the account's own maximum.
    public static let maxChats = 0...100
    /// 0: never away.
    public static let awayAfterMinutes = 0.0...1_440.0
}

extension AccountStatus {
    /// The moves an admin may make: pending → active or rejected, active ⇄ disabled
    /// (staying as it is is no move).
    public func mayBecome(_ next: AccountStatus) -> Bool {
        guard next != self else { return true }
        return switch self {
        case .pending: next == .active || next == .rejected
        case .active: next == .disabled
        case .disabled: next == .active
        case .rejected: false
        }
    }
}

extension AccountUpdated {
    /// The account with the settings of an admin's change (status, roles, departments,
    /// maximum, away time). What a status change sets off (sessions, presence) is the
    /// owner's to do.
    public func applying(_ change: AccountUpdateRequested) -> AccountUpdated {
        var account = self
        if let status = change.status { account.status = status }
        if let roles = change.roles { account.roles = Array(Set(roles)).sorted() }
        if let departments = change.departmentIds { account.departmentIds = departments }
        if let maximum = change.maxChats { account.maxChats = maximum == 0 ? nil : maximum }
        if let minutes = change.awayAfterMinutes { account.awayAfterMinutes = minutes }
        return account
    }

    /// Whether both show the same settings (those `applying` sets).
    public func hasSameSettings(as other: AccountUpdated) -> Bool {
        status == other.status && roles == other.roles && departmentIds == other.departmentIds && maxChats == other.maxChats
            && awayAfterMinutes == other.awayAfterMinutes
    }
}
