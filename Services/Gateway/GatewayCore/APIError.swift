import Foundation
import Hummingbird

/// An error the API returns: an HTTP status, a stable code and a message for people.
/// Sent as `{"error": {"code": "...", "message": "..."}}`; WebSocket error frames carry
/// the same code and message.
public struct APIError: HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// The form field the error is about (`prechat_invalid`), for the client to point at.
    public var field: String?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(ErrorBody(error: .init(code: code, message: message, field: field)), status: status)
    }

    static let unauthorized = APIError(.unauthorized, "unauthorized", "A valid access token is required.")
    static func malformed(_ detail: String) -> APIError { APIError(.badRequest, "malformed_request", detail) }
    static func invalid(_ detail: String) -> APIError { APIError(.unprocessableContent, "invalid_request", detail) }
    static let chatNotFound = APIError(.notFound, "chat_not_found", "There is no such chat, or it is not yours.")
    static let unavailable = APIError(.serviceUnavailable, "unavailable", "The chat system could not take the request; try again.")
    static let timeout = APIError(.gatewayTimeout, "timeout", "The chat system did not answer in time; try again.")
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
             body: ResponseBody(byteBuffer: ByteBuffer(bytes: APIJSON.encode(value))))
}

struct ErrorBody: Encodable {
    struct Detail: Encodable {
        var code: String
        var message: String
        var field: String?
    }

    var error: Detail
}
