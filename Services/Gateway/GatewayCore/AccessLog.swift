import ChatWire
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The id that ties one HTTP request or WebSocket frame to the Kafka events it causes:
/// commands carry it as their correlation id, and every service logs it.
enum RequestCorrelation {
    @TaskLocal static var id: String?
}

/// One log line per HTTP request (method, path without the query, status, duration, request
/// id). The request id comes from `X-Request-Id` when the caller (or a load balancer) sent a
/// valid one, else it is made here; it is echoed in the response.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { HTTPField.Name("X-Request-Id")! }
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestID = request.headers[Self.header].flatMap { WireID.isValid($0) ? $0 : nil } ?? WireID.make()
        let started = ContinuousClock.now
        do {
            var response = try await RequestCorrelation.$id.withValue(requestID) { try await next(request, context) }
            response.headers[Self.header] = requestID
            log(request, status: response.status, since: started, requestID: requestID)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            log(request, status: status, since: started, requestID: requestID)
            throw RequestIDError(wrapped: error, requestID: requestID)
        }
    }

    private func log(_ request: Request, status: HTTPResponse.Status, since started: ContinuousClock.Instant, requestID: String) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info("request", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(status.code)",
            "durationMs": "\(String(format: "%.1f", milliseconds))", "requestId": "\(requestID)",
        ])
    }
}

/// Keeps an error's response as it was and adds the request id header to it.
struct RequestIDError: HTTPResponseError {
    let wrapped: any Error
    let requestID: String

    var status: HTTPResponse.Status { (wrapped as? any HTTPResponseError)?.status ?? .internalServerError }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response: Response
        if let wrapped = wrapped as? any HTTPResponseError {
            response = try wrapped.response(from: request, context: context)
        } else {
            response = Response(status: .internalServerError)
        }
        response.headers[AccessLogMiddleware<BasicRequestContext>.header] = requestID
        return response
    }
}
