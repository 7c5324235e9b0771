import ChatRuntime
import Foundation

/// The gateway's configuration, read from the environment in one place.
public struct GatewayConfiguration: Sendable {
    public var common: CommonConfiguration
    /// `GATEWAY_HOST` and `GATEWAY_PORT`: where HTTP and WebSocket listen.
    public var host: String
    public var port: Int
    /// `GATEWAY_TOKEN_SECRET`: key that signs access tokens. Every gateway instance behind
    /// one load balancer needs the same one. When unset, a random one is made once and
    /// kept in the data folder, so tokens survive a restart of this instance.
    public var tokenSecret: String?
    /// `GATEWAY_TOKEN_TTL_SECONDS`.
    public var tokenLifetimeSeconds: Int
    /// `GATEWAY_STAFF_SESSION_SECONDS`: how long a staff sign-in lasts (default 12 h).
    public var staffSessionSeconds: Int
    /// `GATEWAY_BCRYPT_COST`: the work factor of new password hashes (each step doubles it).
    public var bcryptCost: Int
    /// `GATEWAY_LOGIN_FAILURES_ALLOWED` within `GATEWAY_LOGIN_LOCKOUT_SECONDS`: failed
    /// sign-ins per login name before it is refused for the rest of that window.
    public var loginFailuresAllowed: Int
    public var loginLockoutSeconds: Int
    /// `GATEWAY_REPLY_TIMEOUT_MS`: how long a request waits for the router or archiver.
    public var replyTimeoutMilliseconds: Int
    /// `GATEWAY_VIEW_CATCH_UP_MS`: how long a request naming a chat this gateway has not
    /// seen yet waits for its view to catch up (the chat may have just started through
    /// another gateway) before answering "not found".
    public var viewCatchUpMilliseconds: Int
    /// `GATEWAY_PRESENCE_HEARTBEAT_SECONDS`: how often each open agent socket is reported to
    /// presence again (keep it well below `PRESENCE_CONNECTION_TIMEOUT_SECONDS`).
    public var presenceHeartbeatSeconds: Int
    /// `GATEWAY_MAX_MESSAGE_CHARS`: the longest chat message accepted.
    public var maxMessageCharacters: Int
    /// `GATEWAY_MESSAGES_PER_MINUTE` and `GATEWAY_MESSAGE_BURST`: how fast one caller may
    /// send messages (a token bucket per visitor or agent).
    public var messagesPerMinute: Int
    public var messageBurst: Int
    /// `GATEWAY_ALLOWED_ORIGINS`: web origins allowed to call the API and open sockets from
    /// a browser: `*` (default) or a comma-separated list.
    public var allowedOrigins: AllowedOrigins
    /// `GATEWAY_DEPARTMENT_ORIGINS`: per department, the only sites whose pages may start
    /// and write in its chats (`support=https://shop.example;sales=https://sales.example`);
    /// departments not named follow `GATEWAY_ALLOWED_ORIGINS` alone.
    public var departmentOrigins: DepartmentOrigins
    /// `GATEWAY_PUBLIC_DIR`: static files (widget, console) served at the root; defaults to
    /// the copy bundled with the gateway.
    public var publicDirectory: String

    public init(environment: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        common = try CommonConfiguration(service: "gateway", environment: environment)
        host = try environment.string("GATEWAY_HOST", default: "127.0.0.1")
        port = try environment.int("GATEWAY_PORT", default: 8080, range: 0...65_535)
        tokenSecret = environment.values["GATEWAY_TOKEN_SECRET"]
        if let tokenSecret, tokenSecret.utf8.count < 32 {
            throw ConfigurationError(variable: "GATEWAY_TOKEN_SECRET", problem: "must be at least 32 characters")
        }
        tokenLifetimeSeconds = try environment.int("GATEWAY_TOKEN_TTL_SECONDS", default: 86_400, range: 60...31_536_000)
        staffSessionSeconds = try environment.int("GATEWAY_STAFF_SESSION_SECONDS", default: 43_200, range: 60...2_592_000)
        bcryptCost = try environment.int("GATEWAY_BCRYPT_COST", default: 11, range: 4...16)
        loginFailuresAllowed = try environment.int("GATEWAY_LOGIN_FAILURES_ALLOWED", default: 5, range: 1...1_000)
        loginLockoutSeconds = try environment.int("GATEWAY_LOGIN_LOCKOUT_SECONDS", default: 300, range: 1...86_400)
        replyTimeoutMilliseconds = try environment.int("GATEWAY_REPLY_TIMEOUT_MS", default: 10_000, range: 100...120_000)
        viewCatchUpMilliseconds = try environment.int("GATEWAY_VIEW_CATCH_UP_MS", default: 1_500, range: 0...30_000)
        presenceHeartbeatSeconds = try environment.int("GATEWAY_PRESENCE_HEARTBEAT_SECONDS", default: 10, range: 1...300)
        maxMessageCharacters = try environment.int("GATEWAY_MAX_MESSAGE_CHARS", default: 4_000, range: 1...100_000)
        messagesPerMinute = try environment.int("GATEWAY_MESSAGES_PER_MINUTE", default: 60, range: 1...100_000)
        messageBurst = try environment.int("GATEWAY_MESSAGE_BURST", default: 20, range: 1...100_000)
        allowedOrigins = AllowedOrigins(try environment.string("GATEWAY_ALLOWED_ORIGINS", default: "*"))
        departmentOrigins = try DepartmentOrigins(environment.values["GATEWAY_DEPARTMENT_ORIGINS"] ?? "")
        publicDirectory = try environment.string("GATEWAY_PUBLIC_DIR", default: Bundle.module.resourceURL?.appendingPathComponent("Public").path ?? "Public")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: publicDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigurationError(variable: "GATEWAY_PUBLIC_DIR", problem: "must name a folder, got '\(publicDirectory)'")
        }
    }

    public var storePath: String { "\(common.dataDirectory)/gateway.sqlite" }
}
