import NIOSSL

/// Where and how the `SMTPClient` submits mail.
public struct SMTPSettings: Sendable {
    public enum Security: String, Sendable {
        /// Plain TCP. Credentials are only sent when the server is on loopback.
        case none
        /// Plain TCP upgraded with STARTTLS before anything else; a server that does not
        /// offer STARTTLS is refused (no silent downgrade).
        case startTLS = "starttls"
        /// TLS from the first byte (submissions port 465).
        case tls
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// Envelope and header From address.
    public var from: String
    /// Name sent in EHLO and used as the Message-ID's domain.
    public var heloName: String
    /// Limit for connecting and for each command's reply (the DATA body included).
    public var timeout: Duration
    /// Certificates to trust instead of the system's (e.g. a private CA, or a test's
    /// self-signed certificate).
    public var trustRoots: NIOSSLTrustRoots?
    /// `.fullVerification` (chain and host name) unless overridden, e.g. for a test server.
    public var certificateVerification: CertificateVerification

    public init(
        host: String,
        port: Int = 25,
        security: Security = .none,
        username: String? = nil,
        password: String? = nil,
        from: String,
        heloName: String = "localhost",
        timeout: Duration = .seconds(30),
        trustRoots: NIOSSLTrustRoots? = nil,
        certificateVerification: CertificateVerification = .fullVerification
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.heloName = heloName
        self.timeout = timeout
        self.trustRoots = trustRoots
        self.certificateVerification = certificateVerification
    }
}
