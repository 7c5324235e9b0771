import ChatRuntime
import ChatWire
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

/// Per department (the widget's token): the sites its chat button may be used on, over
/// the gateway-wide list. `support=https://shop.example,https://www.shop.example;sales=...`.
public struct DepartmentOrigins: Sendable, Equatable {
    let lists: [String: AllowedOrigins]

    public init(_ text: String) throws(ConfigurationError) {
        var lists: [String: AllowedOrigins] = [:]
        for entry in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, WireID.isValid(parts[0]), !parts[1].isEmpty, lists[parts[0]] == nil else {
                throw ConfigurationError(variable: "GATEWAY_DEPARTMENT_ORIGINS",
                                         problem: "entry '\(entry)' must be department=origin[,origin...], each department once")
            }
            lists[parts[0]] = AllowedOrigins(parts[1])
        }
        self.lists = lists
    }

    /// Whether a browser page of `origin` may start or write in chats of the department.
    /// Requests without an Origin (not from a browser) and pages the gateway serves itself
    /// are not restricted.
    public func allows(_ origin: String?, department: String, gatewayHost: String?) -> Bool {
        guard let origin, origin != "null", let list = lists[department] else { return true }
        if let gatewayHost, origin == "http://\(gatewayHost)" || origin == "https://\(gatewayHost)" { return true }
        return list.allows(origin)
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
            response.headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            do {
                response = try await next(request, context)
            } catch let error as any HTTPResponseError {
                // An error answer needs the headers too, or the page cannot read why it failed.
                response = try error.response(from: request, context: context)
            }
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "Content-Disposition, \(ArchiveExport.totalHeader)"

        response.headers[.vary] = "Origin"
        return response
    }
}
