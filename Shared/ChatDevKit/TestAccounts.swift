import Foundation
import HummingbirdBcrypt

/// Accounts provisioned through `PRESENCE_AGENTS` for tests and benchmarks, all with one
/// password made at random per process (never a fixed one).
public enum TestAccounts {
    public static let password = "pw-" + UUID().uuidString.lowercased()
    /// Cost 4, bcrypt's least: test sign-ins stay fast; real accounts use the gateway's cost.
    public static let passwordHash = Bcrypt.hash(password, cost: 4)

    /// One `PRESENCE_AGENTS` entry.
    public static func entry(_ id: String, name: String, departments: [String], maxChats: Int? = nil, roles: [String] = ["agent"]) -> String {
        [id, name, departments.joined(separator: "+"), maxChats.map(String.init) ?? "", roles.joined(separator: "+"), passwordHash].joined(separator: ":")
    }

    /// The two agents most tests use: alice (support and sales) and bob (support).
    public static let standard = [entry("alice", name: "Alice Adams", departments: ["support", "sales"]),
                                  entry("bob", name: "Bob Berg", departments: ["support"])].joined(separator: ";")
}
