import ChatWire
import Foundation
import Testing

/// The documents that promise what the code does are checked against the code.
@Suite struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func openAPIDocumentIsValidOpenAPI31() throws {
        let (status, text) = try runProcess("/usr/bin/env", ["python3", "-m", "openapi_spec_validator", Self.root.appendingPathComponent("docs/openapi.yaml").path])
        #expect(status == 0, "openapi-spec-validator: \(text)")
        #expect(try read("docs/openapi.yaml").contains("openapi: 3.1"))
    }

    @Test func everyGatewayRouteIsDocumented() throws {
        let source = try ["GatewayHTTP", "AccountsHTTP", "ArchiveHTTP"].map { try read("Services/Gateway/GatewayCore/\($0).swift") }.joined(separator: "\n")
        let spec = try read("docs/openapi.yaml")
        let pattern = try Regex(#"(router|api)\.(get|post|put|patch|delete)\("([^"]+)""#)
        var routes: [String] = []
        for match in source.matches(of: pattern) {
            let prefix = match.output[1].substring == "api" ? "/api/v1" : ""
            let path = prefix + String(match.output[3].substring!)
            let openAPIPath = path.replacing(try Regex(#":(\w+)"#)) { "{\($0.output[1].substring!)}" }
            routes.append("\(match.output[2].substring!) \(openAPIPath)")
            #expect(spec.contains("\n  \(openAPIPath):"), "docs/openapi.yaml documents \(openAPIPath)")
        }
        #expect(routes.count >= 12)
    }

    @Test func architectureListsEveryTopicWithItsPartitions() throws {
        let architecture = try read("docs/architecture.md")
        for topic in Topic.allCases {
            let row = architecture.split(separator: "\n").first { $0.hasPrefix("| `\(topic.name)`") }
            #expect(row != nil, "docs/architecture.md has a row for \(topic.name)")
            #expect(row?.contains("| \(topic.partitions) |") == true, "\(topic.name) has \(topic.partitions) partitions")
            #expect(row?.contains(topic.cleanupPolicy) == true, "\(topic.name) is \(topic.cleanupPolicy)")
        }
    }

    @Test func wireFormatDocumentsEveryEventType() throws {
        let wireFormat = try read("docs/wire-format.md")
        for type in EventType.allCases {
            #expect(wireFormat.contains("`\(type.rawValue)`"), "docs/wire-format.md documents \(type.rawValue)")
        }
    }

    @Test func realtimeProtocolDocumentsEveryFrameType() throws {
        let realtime = try read("docs/realtime.md")
        for frame in ["hello", "chat.updated", "message", "message.accepted", "department.updated", "error", "pong", "ping", "message.send", "availability.set", "typing", "agent.updated"] {
            #expect(realtime.contains("`\(frame)`"), "docs/realtime.md documents \(frame)")
        }
    }

    @Test func readmeStartsWithTheTwoCommands() throws {
        let readme = try read("README.md")
        let quickStart = try #require(readme.range(of: "## Quick start"))
        let blocks = readme[quickStart.upperBound...].components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(blocks.count >= 2)
        #expect(blocks.first?.contains("./scripts/start") == true)
        #expect(blocks.dropFirst().first?.contains("./scripts/test") == true)
        #expect(try read(".ci/run").contains("./scripts/test"))
    }
}

/// The container files (which cannot run here: no Docker engine) name only what exists.
@Suite struct ComposeTests {
    @Test func composeFilesMatchTheCodeAndDocs() throws {
        let (status, text) = try runProcess("/usr/bin/env", ["python3", DocumentationTests.root.appendingPathComponent("Tests/ops/check_compose.py").path],
                                            directory: DocumentationTests.root)
        #expect(status == 0, "check_compose.py: \(text)")
        #expect(text.contains("compose check: ok"))
    }
}
