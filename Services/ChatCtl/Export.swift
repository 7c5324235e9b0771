import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// E5: `chatctl export`: streams the archive's export from a gateway into a file, with a
/// progress bar on a terminal. Signs in as a supervisor or admin.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export archived chats (with transcripts) of a time range as CSV or JSON.",
        discussion: "Reads the export through the gateway's API (GET /api/v1/archive/export) as it is produced, so any size works.")

    @Option(help: "The gateway's base URL.")
    var gateway = "http://127.0.0.1:8080"

    @Option(help: "Login name of a supervisor or admin.")
    var login: String

    @OptionGroup var password: PasswordSource

    @Option(help: "csv or json.")
    var format = "csv"

    @Option(help: "Chats queued at or after this day or time (ISO 8601, e.g. 2026-11-01).")
    var from: String?

    @Option(help: "Chats queued before this day or time.")
    var to: String?

    @Option(help: "Only this department.")
    var department: String?

    @Option(name: .shortAndLong, help: "The file to write (replaced if it exists).")
    var output: String

    func validate() throws {
        guard ["csv", "json"].contains(format) else { throw ValidationError("--format must be csv or json") }
        guard URL(string: gateway)?.host != nil else { throw ValidationError("--gateway must be a URL such as http://127.0.0.1:8080") }
    }

    func run() async throws {
        let client = HTTPClient.shared
        let token = try await signIn(client)
        var components = URLComponents(string: gateway.hasSuffix("/") ? String(gateway.dropLast()) : gateway)!
        components.path += "/api/v1/archive/export"
        components.queryItems = [URLQueryItem(name: "format", value: format)]
            + [("from", from), ("to", to), ("departmentId", department)].compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        var request = HTTPClientRequest(url: components.url!.absoluteString)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(request, timeout: .hours(24))
        guard response.status == .ok else {
            throw Failure("the gateway refused the export: \(response.status.code) \(try await errorMessage(response))")
        }
        let total = response.headers.first(name: "X-Archive-Chats").flatMap(Int.init)
        guard FileManager.default.createFile(atPath: output, contents: nil), let file = FileHandle(forWritingAtPath: output) else {
            throw Failure("cannot write '\(output)'")
        }
        defer { try? file.close() }
        var progress = ExportProgress(total: total, format: format)
        for try await buffer in response.body {
            let bytes = buffer.readableBytesView
            try file.write(contentsOf: Data(bytes))
            progress.add(bytes)
        }
        progress.finish()
        if let total, progress.chats != total {
            throw Failure("the export ended early: \(progress.chats) of \(total) chats (the file is incomplete)")
        }
    }

    private func signIn(_ client: HTTPClient) async throws -> String {
        var request = HTTPClientRequest(url: gateway + "/api/v1/agents/sessions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = try JSONSerialization.data(withJSONObject: ["login": login, "password": try password.read()])
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        guard response.status == .created else { throw Failure("sign-in failed: \(response.status.code) \(try await errorMessage(response))") }
        let json = try JSONSerialization.jsonObject(with: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)) as? [String: Any]
        guard let token = json?["token"] as? String else { throw Failure("sign-in answered without a token") }
        return token
    }

    private func errorMessage(_ response: HTTPClientResponse) async throws -> String {
        let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        return ((json?["error"] as? [String: Any])?["message"] as? String) ?? String(decoding: data.prefix(200), as: UTF8.self)
    }
}

/// Counts chats in the stream as it passes (a CSV row ends at CRLF outside quotes; JSON
/// chats are separated by the only raw newlines, since strings escape theirs) and draws a
/// bar on standard error when it is a terminal.
struct ExportProgress {
    let total: Int?
    let format: String
    private(set) var chats = 0
    private var bytes = 0
    private var inQuotes = false
    private var previous: UInt8 = 0
    private var sawHeader = false
    private var sawAnyChat = false
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private let terminal = isatty(STDERR_FILENO) == 1

    init(total: Int?, format: String) {
        self.total = total
        self.format = format
    }

    mutating func add(_ view: ByteBufferView) {
        bytes += view.count
        for byte in view {
            if format == "csv" {
                if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
                if byte == UInt8(ascii: "\n"), previous == UInt8(ascii: "\r"), !inQuotes {
                    if sawHeader { chats += 1 } else { sawHeader = true }
                }
            } else if byte == UInt8(ascii: "{") {
                sawAnyChat = true
            } else if byte == UInt8(ascii: "\n") {
                if sawAnyChat { chats += 1 }
                sawAnyChat = false
            }
            previous = byte
        }
        if terminal, ContinuousClock.now - lastDraw > .milliseconds(100) {
            draw()
            lastDraw = .now
        }
    }

    mutating func finish() {
        if terminal { draw() }
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        FileHandle.standardError.write(Data("\(terminal ? "\n" : "")exported \(chats) chats, \(Self.megabytes(bytes)) in \(String(format: "%.1f", seconds)) s\n".utf8))
    }

    private func draw() {
        let width = 30
        let fraction = total.map { $0 == 0 ? 1 : min(1, Double(chats) / Double($0)) }
        let filled = Int((fraction ?? 0) * Double(width))
        let bar = total == nil ? "" : "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        let count = total.map { "\(chats)/\($0) chats" } ?? "\(chats) chats"
        FileHandle.standardError.write(Data("\r\(bar)\(count)  \(Self.megabytes(bytes))   ".utf8))
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }
}
