import ArchiverCore
import ChatDevKit
import ChatWire
import Foundation

/// E5: exporting many archived chats keeps the archiver's memory flat. The archive is filled
/// before the archiver starts, through `Archive.record` (the code its consumer files events
/// with), because producing hundreds of thousands of conversations through Kafka would
/// measure ingestion, not the export.
extension ChatBench {
    static let exportAdmin = TestAccounts.entry("root", name: "Root Admin", departments: ["support"], roles: ["agent", "admin"])

    func runExport() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("livechat-bench-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let archiverData = data.appendingPathComponent(DevCluster.Component.archiver.rawValue)
        try FileManager.default.createDirectory(at: archiverData, withIntermediateDirectories: true)
        let seeding = ContinuousClock.now
        let storeBytes = try await fillArchive(at: archiverData.appendingPathComponent("archiver.sqlite").path, chats: archived)
        print(String(format: "filed %d closed chats (4 messages each) in %.1f s; archiver.sqlite %.1f MiB", archived,
                     (ContinuousClock.now - seeding).seconds, Double(storeBytes) / 1_048_576))

        let cluster = DevCluster(options: .init(
            binDirectory: DevCluster.defaultBinDirectory(), dataDirectory: data, gatewayPort: DevCluster.freePort(),
            environment: ["CHAT_LOG_LEVEL": "warning", "PRESENCE_AGENTS": [TestAccounts.standard, Self.exportAdmin].joined(separator: ";")]))
        try await cluster.startAll()
        do {
            let result = try await measureExport(cluster: cluster, directory: data)
            await cluster.stopAll()
            print(result)
        } catch {
            await cluster.stopAll()
            throw error
        }
    }

    /// Closed chats spread over the last `chats` × 10 seconds, each queued, assigned, with two
    /// visitor and two agent lines, closed. Returns the store's size.
    func fillArchive(at path: String, chats: Int) async throws -> Int {
        let store = try Archive.openStore(path: path)
        let visitorLines = ["Guten Tag, meine Bestellung 4711 ist nicht angekommen.", "Danke, das hilft mir sehr! 👍"]
        let agentLines = ["Das tut mir leid, ich sehe sofort nach der Sendung.", "Sie ist heute beim Paketdienst eingetroffen."]
        let agent = Participant(role: .agent, id: "alice", displayName: "Alice Adams")
        let start = Date().addingTimeInterval(-Double(chats) * 10 - 3_600)
        var batch: [(envelope: Envelope, partition: Int32)] = []
        for index in 0..<chats {
            let chatId = String(format: "bench-%07d", index)
            let partition = Partitioning.partition(forKey: chatId, count: Int32(Topic.chatConversations.partitions))
            let visitor = Participant(role: .visitor, id: "v-bench-\(index)", displayName: "Visitor \(index)")
            let queuedAt = start.addingTimeInterval(Double(index) * 10)
            func event(_ step: Int, _ event: WireEvent) -> (envelope: Envelope, partition: Int32) {
                (Envelope(id: "\(chatId)-\(step)", occurredAt: queuedAt.addingTimeInterval(Double(step) * 5), producer: "chat-bench", event: event), partition)
            }
            batch.append(event(0, .chatQueued(ChatQueued(chatId: chatId, departmentId: "support", visitor: visitor, queuedAt: queuedAt,
                                                         contact: "Guest-\(index + 1)"))))
            batch.append(event(1, .chatAssigned(ChatAssigned(chatId: chatId, departmentId: "support", agent: agent, reason: .manualPick))))
            for line in 0..<4 {
                let sender = line.isMultiple(of: 2) ? visitor : agent
                let text = line.isMultiple(of: 2) ? visitorLines[line / 2] : agentLines[line / 2]
                batch.append(event(2 + line, .messagePosted(MessagePosted(chatId: chatId, messageId: "\(chatId)-m\(line)",
                                                                          sender: sender, text: text))))
            }
            batch.append(event(6, .chatClosed(ChatClosed(chatId: chatId, departmentId: "support", closedBy: agent))))
            if batch.count >= 20_000 {
                try await Archive.record(batch, in: store)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try await Archive.record(batch, in: store)
        await store.truncateLog()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return size
    }

    /// Runs `chatctl export` against the running system while sampling memory every 50 ms.
    func measureExport(cluster: DevCluster, directory: URL) async throws -> String {
        let client = ChatClient(baseURL: cluster.gatewayURL)
        let root = try await client.agent("root")
        guard let archiver = cluster.processID(.archiver), let gateway = cluster.processID(.gateway) else {
            throw ClientError("the archiver or gateway is not running")
        }
        // Warm up: one small question so the archiver's partitions are assigned and answering.
        let warm = try await client.request("GET", "/api/v1/archive/chats?limit=1", token: root)
        guard warm.status == 200 else { throw ClientError("archive not answering: \(warm.status) \(warm.text)") }
        let before = (archiver: MemoryFigures.read(pid: archiver), gateway: MemoryFigures.read(pid: gateway))

        let passwordFile = directory.appendingPathComponent("root-password")
        try Data(TestAccounts.password.utf8).write(to: passwordFile)
        let output = directory.appendingPathComponent("export.csv")
        let chatctl = Process()
        chatctl.executableURL = cluster.options.binDirectory.appendingPathComponent("chatctl")
        chatctl.arguments = ["export", "--gateway", cluster.gatewayURL, "--login", "root", "--password-file", passwordFile.path,
                             "--format", "csv", "--output", output.path]
        chatctl.standardOutput = FileHandle.nullDevice
        let sampler = Task {
            var peak = (archiver: 0, gateway: 0)
            while !Task.isCancelled {
                peak.archiver = max(peak.archiver, MemoryFigures.read(pid: archiver)?.rssKiB ?? 0)
                peak.gateway = max(peak.gateway, MemoryFigures.read(pid: gateway)?.rssKiB ?? 0)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return peak
        }
        let started = ContinuousClock.now
        try chatctl.run()
        while chatctl.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let elapsed = (ContinuousClock.now - started).seconds
        sampler.cancel()
        let peak = await sampler.value
        guard chatctl.terminationStatus == 0 else { throw ClientError("chatctl export failed with status \(chatctl.terminationStatus)") }
        let after = (archiver: MemoryFigures.read(pid: archiver), gateway: MemoryFigures.read(pid: gateway))
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int) ?? 0
        let rows = try countRecords(csv: output)
        guard rows == archived else { throw ClientError("the export has \(rows) chats, expected \(archived)") }
        func mib(_ kib: Int?) -> String { String(format: "%.1f MiB", Double(kib ?? 0) / 1024) }
        return """
            exported \(rows) chats, \(String(format: "%.1f", Double(bytes) / 1_048_576)) MiB of CSV in \(String(format: "%.1f", elapsed)) s \
            (\(String(format: "%.0f", Double(rows) / elapsed)) chats/s) with chatctl export
            archiver: RSS before \(mib(before.archiver?.rssKiB)), peak while exporting \(mib(peak.archiver)), \
            high-water mark before \(mib(before.archiver?.hwmKiB)) → after \(mib(after.archiver?.hwmKiB))
            gateway:  RSS before \(mib(before.gateway?.rssKiB)), peak while exporting \(mib(peak.gateway)), \
            high-water mark before \(mib(before.gateway?.hwmKiB)) → after \(mib(after.gateway?.hwmKiB))
            """
    }

    /// CSV records (not lines: transcripts hold line breaks inside quotes), without the header.
    func countRecords(csv: URL) throws -> Int {
        let handle = try FileHandle(forReadingFrom: csv)
        defer { try? handle.close() }
        var records = 0
        var quoted = false
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            for byte in chunk {
                if byte == UInt8(ascii: "\"") { quoted.toggle() } else if byte == UInt8(ascii: "\n") && !quoted { records += 1 }
            }
        }
        return records - 1
    }
}

/// Resident and peak resident memory of a process, from /proc.
struct MemoryFigures {
    var rssKiB: Int
    var hwmKiB: Int

    static func read(pid: Int32) -> MemoryFigures? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        }
        guard let rss = field("VmRSS"), let hwm = field("VmHWM") else { return nil }
        return MemoryFigures(rssKiB: rss, hwmKiB: hwm)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
