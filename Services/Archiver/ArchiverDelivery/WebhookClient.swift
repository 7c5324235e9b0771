import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// One HTTP POST to a subscriber's URL. `body` is the JSON document, sent as is.
public struct WebhookRequest: Sendable, Codable, Equatable {
    public var url: String
    public var eventType: String
    @Base64Coded public var body: [UInt8]

    public init(url: String, eventType: String, body: [UInt8]) {
        self.url = url
        self.eventType = eventType
        self.body = body
    }
}

/// Posts signed webhooks. The receiver checks `X-Livechat-Signature` against
/// `signature(secret:timestamp:body:)` of `X-Livechat-Timestamp` and the raw body, and
/// uses `X-Livechat-Delivery` (the same on every retry) to drop duplicates.
public struct WebhookClient: Sendable {
    private let secret: String
    private let httpClient: HTTPClient
    private let timeout: Duration

    public init(secret: String, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(10)) {
        self.secret = secret
        self.httpClient = httpClient
        self.timeout = timeout
    }

    /// 2xx: delivered. 408, 429, 5xx, timeouts and connection errors: transient. Other
    /// answers (4xx, and 1xx/3xx, as redirects are not for webhooks) and URLs that are not
    /// http(s): permanent.
    public func send(_ request: WebhookRequest, deliveryID: String, now: Date = Date()) async throws(DeliveryFailure) {
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else {
            throw .permanent("webhook URL \"\(request.url)\" is not an http(s) URL")
        }
        for (name, value) in [("event type", request.eventType), ("delivery id", deliveryID)]
        where value.unicodeScalars.contains(where: { $0.value < 32 || $0.value == 127 }) {
            throw .permanent("webhook \(name) contains control characters")
        }
        let timestamp = Int(now.timeIntervalSince1970.rounded(.down))
        var http = HTTPClientRequest(url: request.url)
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "User-Agent", value: "livechat-webhooks/1")
        http.headers.add(name: "X-Livechat-Event", value: request.eventType)
        http.headers.add(name: "X-Livechat-Delivery", value: deliveryID)
        http.headers.add(name: "X-Livechat-Timestamp", value: String(timestamp))
        http.headers.add(name: "X-Livechat-Signature", value: Self.signature(secret: secret, timestamp: timestamp, body: request.body))
        http.body = .bytes(ByteBuffer(bytes: request.body))

        let status: UInt
        var excerpt: [UInt8] = []
        do {
            let response = try await httpClient.execute(http, timeout: timeout.timeAmount)
            status = response.status.code
            // Read the whole answer so the connection can be reused; keep its start for the log.
            for try await chunk in response.body where excerpt.count < 200 {
                excerpt += chunk.readableBytesView.prefix(200 - excerpt.count)
            }
        } catch {
            throw .transient("webhook \(request.url): \(error)")
        }
        switch status {
        case 200..<300:
            return
        default:
            let text = String(decoding: excerpt, as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            let description = "webhook \(request.url): HTTP \(status)" + (text.isEmpty ? "" : ": \(text)")
            let transient = status == 408 || status == 429 || (500..<600).contains(status)
            throw DeliveryFailure(permanent: !transient, description: description)
        }
    }

    /// "v1=" followed by the lowercase hex HMAC-SHA256, keyed with `secret`, of
    /// "<timestamp>." and the body bytes.
    public static func signature(secret: String, timestamp: Int, body: [UInt8]) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        hmac.update(data: Array("\(timestamp).".utf8))
        hmac.update(data: body)
        let digest = hmac.finalize()
        return "v1=" + digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
