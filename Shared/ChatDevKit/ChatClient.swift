import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore

/// A client of the gateway's public API, for the end-to-end tests and the benchmark.
public struct ChatClient: Sendable {
    public let baseURL: String

    public init(baseURL: String) {
        self.baseURL = baseURL
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: JSON
        public var text: String
        /// Response headers, names in lower case.
        public var headers: [String: String] = [:]
        /// The body as received (for binary answers such as PDF).
        public var data = Data()
    }

    /// Sends a request with an optional bearer token and raw body.
    public func request(_ method: String, _ path: String, token: String? = nil, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        let data = Data(buffer.readableBytesView)
        var responseHeaders: [String: String] = [:]
        for header in response.headers { responseHeaders[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), body: (try? JSON.parse(data)) ?? .null, text: String(decoding: data, as: UTF8.self),
                     headers: responseHeaders, data: data)
    }

    public func request(_ method: String, _ path: String, token: String? = nil, json: [String: any Sendable]) async throws -> Reply {
        try await request(method, path, token: token, body: jsonBody(json))
    }

    /// A new visitor's token.
    public func visitor(named name: String) async throws -> (token: String, id: String) {
        let reply = try await request("POST", "/api/v1/visitors", json: ["displayName": name])
        guard reply.status == 201, let token = reply.body["token"]?.string, let id = reply.body["id"]?.string else {
            throw ClientError("visitor sign-up failed: \(reply.status) \(reply.text)")
        }
        return (token, id)
    }

    /// Signs a staff member in (accounts provisioned by `TestAccounts` unless `password`).
    public func agent(_ agentId: String, password: String = TestAccounts.password) async throws -> String {
        let reply = try await request("POST", "/api/v1/agents/sessions", json: ["login": agentId, "password": password])
        guard reply.status == 201, let token = reply.body["token"]?.string else {
            throw ClientError("agent sign-in failed: \(reply.status) \(reply.text)")
        }
        return token
    }

    /// Opens a socket; `resume` maps chat ids to the last seq the client already has. A nil
    /// token opens a watcher socket (department changes only).
    public func socket(token: String?, resume: [String: Int] = [:], origin: String? = nil) async throws -> ChatSocket {
        var url = baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/api/v1/socket"
        var query = token.map { ["token=\($0)"] } ?? []
        if !resume.isEmpty {
            query.append("resume=" + resume.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))
        }
        if !query.isEmpty { url += "?" + query.joined(separator: "&") }
        return try await ChatSocket.connect(url: url, origin: origin)
    }
}

public struct ClientError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One WebSocket to the gateway: send JSON frames, await the frames it sends. Frames are
/// buffered with their arrival time as they come, so waiting never loses one.
public actor ChatSocket {
    private var buffer: [(frame: JSON, arrivedAt: ContinuousClock.Instant)] = []
    /// Indexes into `buffer` of frames no call has taken yet.
    private var pending: [Int] = []
    private var isClosed = false
    private let outgoing: AsyncStream<String>.Continuation
    private var connection: Task<Void, Never>?

    private init(outgoing: AsyncStream<String>.Continuation) {
        self.outgoing = outgoing
    }

    public static func connect(url: String, origin: String? = nil) async throws -> ChatSocket {
        let (toSend, outgoing) = AsyncStream.makeStream(of: String.self)
        let (opened, openedContinuation) = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        let socket = ChatSocket(outgoing: outgoing)
        let logger = Logger(label: "chat-socket")
        let connection = Task {
            do {
                var headers = HTTPFields()
                if let origin { headers[.origin] = origin }
                try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers), logger: logger) { inbound, outbound, _ in
                    openedContinuation.yield(.success(()))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in toSend { try await outbound.write(.text(text)) }
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                guard case .text(let text) = message, let frame = try? JSON.parse(Data(text.utf8)) else { continue }
                                await socket.deliver(frame, at: .now)
                            }
                        }
                        _ = try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                openedContinuation.yield(.failure(error))
                await socket.markClosed("\(error)")
            }
            await socket.markClosed()
        }
        await socket.setConnection(connection)
        var iterator = opened.makeAsyncIterator()
        guard let result = await iterator.next() else { throw ClientError("socket did not open") }
        try result.get()
        return socket
    }

    private func setConnection(_ task: Task<Void, Never>) { connection = task }
    private func deliver(_ frame: JSON, at time: ContinuousClock.Instant) {
        pending.append(buffer.count)
        buffer.append((frame, time))
    }
    private var closeReason: String?
    private func markClosed(_ reason: String? = nil) {
        isClosed = true
        closeReason = reason ?? closeReason
    }

    public func send(_ fields: [String: any Sendable]) {
        outgoing.yield(String(decoding: jsonBody(fields), as: UTF8.self))
    }

    public func sendRaw(_ text: String) {
        outgoing.yield(text)
    }

    /// Every frame received so far.
    public var received: [JSON] { buffer.map(\.frame) }

    /// The oldest frame not taken yet that matches `predicate`, and when it arrived. Frames
    /// that do not match stay for later calls (a mailbox, not a queue).
    public func nextTimed(timeout: Duration = .seconds(10), where predicate: @Sendable (JSON) -> Bool = { _ in true }) async throws -> (frame: JSON, arrivedAt: ContinuousClock.Instant) {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let index = pending.firstIndex(where: { predicate(buffer[$0].frame) }) {
                return buffer[pending.remove(at: index)]
            }
            if isClosed { throw ClientError("socket closed; last received: \(buffer.suffix(3).map(\.frame)); \(closeReason ?? "")") }
            if ContinuousClock.now >= deadline {
                throw ClientError("timed out waiting for a frame; last received: \(buffer.suffix(3).map(\.frame))")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    public func next(timeout: Duration = .seconds(10), where predicate: @Sendable (JSON) -> Bool = { _ in true }) async throws -> JSON {
        try await nextTimed(timeout: timeout, where: predicate).frame
    }

    public func next(type: String, timeout: Duration = .seconds(10)) async throws -> JSON {
        try await next(timeout: timeout) { $0["type"]?.string == type }
    }

    /// Whether the server has closed the socket.
    public var closed: Bool { isClosed }

    /// Closes gracefully.
    public func close() {
        outgoing.finish()
    }

    /// Drops the connection without a close handshake (a network failure, a killed tab).
    public func abort() {
        connection?.cancel()
    }
}
