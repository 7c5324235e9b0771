import HTTPTypes
import Hummingbird

/// Which web origins may call the API from a browser (the widget runs on customers' sites).
public struct AllowedOrigins: Sendable, Equatable {
    /// Nil allows every origin.
    let origins: Set<String>?

    /// `*` or a comma-separated list such as `https://shop.example,https://www.example`.
    public init(_ text: String) {
        let entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        origins = entries.contains("*") ? nil : Set(entries)
    }

    public func allows(_ origin: String) -> Bool {
        origins?.contains(origin) ?? true
    }
}

/// CORS for browser calls: answers preflights and marks responses for allowed origins.
/// Requests from other origins get no CORS headers, so browsers refuse to read them.
struct CrossOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: AllowedOrigins

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origin != "null" else {
            return try await next(request, context)
        }
        guard allowed.allows(origin) else {
            if request.method == .options { return Response(status: .forbidden) }
            return try await next(request, context)
        }
        var response: Response
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, PUT, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
        return response
    }
}
