@testable import ArchiverCore
import ChatStore
import ChatWire
import Foundation
import Testing

/// Paging through the archive with cursors that went through JSON (millisecond precision)
/// yields every chat exactly once, whatever precision the queue times had when filed.
struct ArchivePagingTests {
    @Test(arguments: [false, true])
    func everyChatOnceAcrossPageBoundaries(newestFirst: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archive-paging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Archive.openStore(path: directory.appendingPathComponent("archiver.sqlite").path)
        // Sub-millisecond times, and several chats in the same millisecond.
        let start = Date(timeIntervalSince1970: 1_795_000_000.123_456_7)
        let chats = (0..<120).map { String(format: "c-%03d", $0) }
        let events = chats.enumerated().map { index, chatId in
            let queued = ChatQueued(chatId: chatId, departmentId: "support", visitor: Participant(role: .visitor, id: "v-\(index)", displayName: "V \(index)"),
                                    queuedAt: start.addingTimeInterval(Double(index / 3) * 0.000_7))
            return (envelope: Envelope(producer: "test", event: .chatQueued(queued)), partition: Int32(0))
        }
        try await Archive.record(events, in: store)

        var seen: [String] = []
        var after: ArchiveCursor?
        repeat {
            let request = ArchiveSearchRequested(replyTo: "test", partition: 0, filter: ArchiveFilter(), after: after, newestFirst: newestFirst,
                                                 limit: 7, includeTranscripts: false, countTotal: false)
            // The answer goes through JSON, as it does between archiver and gateway.
            let answer = try WireCodec.decodeValue(ArchiveSearchAnswered.self,
                                                   from: WireCodec.encodeValue(try await store.database.read { try Archive.search(request, in: $0) }))
            seen += answer.chats.map(\.chatId)
            after = answer.next
        } while after != nil
        #expect(seen.count == chats.count)
        #expect(Set(seen) == Set(chats))
    }
}
