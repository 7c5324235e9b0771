import ChatWire
import Crypto
import Foundation

/// Who a request or socket speaks for.
public struct Caller: Codable, Sendable, Equatable {
    public var role: Participant.Role
    public var id: String
    public var displayName: String
    /// Staff sessions: the session (revocable) and when it began.
    public var sessionId: String? = nil
    public var issuedAt: Date? = nil
    /// Staff roles, from the directory on every request (never from the token).
    public var staffRoles: [StaffRole] = []
    /// Visitors: their contact name ("Guest-N", E2), the same for as long as the token lives.
    public var contact: String? = nil

    enum CodingKeys: String, CodingKey {
        case role, id, displayName, sessionId, issuedAt, contact
    }

    public init(role: Participant.Role, id: String, displayName: String, sessionId: String? = nil, issuedAt: Date? = nil) {
        self.role = role
        self.id = id
        self.displayName = displayName
        self.sessionId = sessionId
        self.issuedAt = issuedAt
    }

    public var participant: Participant { Participant(role: role, id: id, displayName: displayName) }

    /// A staff member holding `staffRole`.
    public func has(_ staffRole: StaffRole) -> Bool { role == .agent && staffRoles.contains(staffRole) }
}

/// Signed, expiring access tokens: `base64url(claims).base64url(HMAC-SHA256)`. Any gateway
/// instance with the same secret verifies them without shared state.
public struct AccessTokenSigner: Sendable {
    private struct Claims: Codable {
        var caller: Caller
        var expiresAt: Int64
    }

    /// How long a token is good for.
    public var lifetimeSeconds: TimeInterval { lifetime }

    private let key: SymmetricKey
    private let lifetime: TimeInterval

    public init(secret: String, lifetime: TimeInterval) {
        key = SymmetricKey(data: SHA256.hash(data: Data(secret.utf8)))
        self.lifetime = lifetime
    }

    public func issue(for caller: Caller, now: Date = Date()) -> String {
        issue(for: caller, expiresAt: now.addingTimeInterval(lifetime))
    }

    public func issue(for caller: Caller, expiresAt: Date) -> String {
        let claims = Claims(caller: caller, expiresAt: Int64(expiresAt.timeIntervalSince1970))
        // Encoding a plain struct of strings and integers cannot fail.
        let body = Base64URL.encode((try? JSONEncoder().encode(claims)) ?? Data())
        return body + "." + Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)))
    }

    /// The caller of a valid, unexpired token; nil for anything else. Staff tokens are
    /// then checked against the directory (`ChatOperations.authenticate`).
    public func verify(_ token: String, now: Date = Date()) -> Caller? {
        verifyWithExpiry(token, now: now)?.caller
    }

    public func verifyWithExpiry(_ token: String, now: Date = Date()) -> (caller: Caller, expiresAt: Date)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let signature = Base64URL.decode(String(parts[1])),
              HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(parts[0].utf8), using: key),
              let body = Base64URL.decode(String(parts[0])),
              let claims = try? JSONDecoder().decode(Claims.self, from: body),
              Double(claims.expiresAt) > now.timeIntervalSince1970
        else { return nil }
        return (claims.caller, Date(timeIntervalSince1970: Double(claims.expiresAt)))
    }
}
