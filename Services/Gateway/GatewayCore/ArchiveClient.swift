import ChatKafka
import ChatRuntime
import ChatWire
import Foundation
import Synchronization

/// Asks the archiver over Kafka. The archive is partitioned like `chat.conversations`, so a
/// question about many chats goes to every partition of `archive.queries` and the answers
/// are merged here in archive order (`queuedAt`, chat id).
final class ArchiveClient: Sendable {
    let producer: KafkaProducer
    let replies: PendingReplies
    let gatewayID: String
    let timeout: Duration
    private let partitions = Mutex<Int32?>(nil)

    init(producer: KafkaProducer, replies: PendingReplies, gatewayID: String, timeout: Duration) {
        self.producer = producer
        self.replies = replies
        self.gatewayID = gatewayID
        self.timeout = timeout
    }

    /// The partition count of `archive.queries`, asked once.
    func partitionCount() async throws -> Int32 {
        if let known = partitions.withLock({ $0 }) { return known }
        let count: Int32
        do { count = try await producer.partitionCount(topic: Topic.archiveQueries.name) } catch { throw APIError.unavailable }
        partitions.withLock { $0 = count }
        return count
    }

    /// Sends a question and waits for the archiver's answer (causation id = its id).
    func ask(_ event: WireEvent, key: String, partition: Int32? = nil, topic: Topic = .archiveQueries,
             sealing: SealingContext? = nil) async throws -> Envelope {
        let question = Envelope(correlationID: RequestCorrelation.id, producer: gatewayID, event: event)
        let record = WireRecord(topic: topic, key: key, envelope: question, partition: partition, sealing: sealing)
        // Other events may name the question as their cause (`chat.deleted`): only answers count.
        let answers: Set<EventType> = [.archiveSearchAnswered, .archiveDeleteAnswered, .deliveryQueued, .transcriptAnswered]
        return try await replies.request(id: question.id, timeout: timeout, accepts: { answers.contains($0.event.type) }) { [producer] in
            do { try await producer.send(record) } catch { throw APIError.unavailable }
        }
    }

    /// One page of one partition.
    func page(_ filter: ArchiveFilter, partition: Int32, after: ArchiveCursor?, newestFirst: Bool, limit: Int, full: Bool,
              countTotal: Bool = false) async throws -> ArchiveSearchAnswered {
        let question = ArchiveSearchRequested(replyTo: gatewayID, partition: partition, filter: filter, after: after, newestFirst: newestFirst,
                                              limit: limit, includeTranscripts: full, countTotal: countTotal)
        let answer = try await ask(.archiveSearchRequested(question), key: "partition-\(partition)", partition: partition)
        guard case .archiveSearchAnswered(let page) = answer.event else { throw APIError.unavailable }
        return page
    }

    /// The first pages of every partition, asked at once.
    private func firstPages(_ filter: ArchiveFilter, after: ArchiveCursor?, newestFirst: Bool, limit: Int, full: Bool,
                            countTotal: Bool) async throws -> [ArchiveSearchAnswered] {
        let count = try await partitionCount()
        return try await withThrowingTaskGroup(of: ArchiveSearchAnswered.self) { group in
            for partition in 0..<count {
                group.addTask {
                    try await self.page(filter, partition: partition, after: after, newestFirst: newestFirst, limit: limit, full: full, countTotal: countTotal)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// E3: up to `limit` chats in archive order (newest first by default), and where the
    /// next page starts.
    func search(_ filter: ArchiveFilter, after: ArchiveCursor?, newestFirst: Bool = true, limit: Int, full: Bool = false)
        async throws -> (chats: [ArchivedChat], next: ArchiveCursor?) {
        let pages = try await firstPages(filter, after: after, newestFirst: newestFirst, limit: limit, full: full, countTotal: false)
        var chats = pages.flatMap(\.chats).sorted { newestFirst ? $0.cursor > $1.cursor : $0.cursor < $1.cursor }
        let more = chats.count > limit || pages.contains { $0.next != nil }
        chats = Array(chats.prefix(limit))
        return (chats, more ? chats.last?.cursor : nil)
    }

    /// One chat with its story and messages, if the filter lets the caller see it.
    func chat(_ chatId: String, filter: ArchiveFilter) async throws -> ArchivedChat? {
        var filter = filter
        filter.chatId = chatId
        return try await search(filter, after: nil, limit: 1, full: true).chats.first
    }

    /// E5: every matching chat, oldest first, with its transcript (see `ArchiveMerge`).
    func merge(_ filter: ArchiveFilter, pageSize: Int = 100) async throws -> ArchiveMerge {
        let pages = try await firstPages(filter, after: nil, newestFirst: false, limit: pageSize, full: true, countTotal: true)
        return ArchiveMerge(client: self, filter: filter, pageSize: pageSize, pages: pages)
    }

    /// E4: deletes one closed chat (409 when open, 404 when the archive has none).
    func delete(_ chatId: String, by caller: Participant) async throws {
        let answer = try await ask(.archiveDeleteRequested(ArchiveDeleteRequested(replyTo: gatewayID, chatId: chatId, partition: nil, departmentIds: nil,
                                                                                   requestedBy: caller)), key: chatId)
        guard case .archiveDeleteAnswered(let result) = answer.event else { throw APIError.unavailable }
        if !result.openChatIds.isEmpty {
            throw APIError(.conflict, "chat_open", "This chat is still open; it can be deleted once it has ended.")
        }
        guard !result.deletedChatIds.isEmpty else { throw APIError.chatNotFound }
    }

    /// E4: deletes every closed chat of the departments (nil: all); returns how many.
    func deleteClosed(departmentIds: [String]?, by caller: Participant) async throws -> Int {
        let count = try await partitionCount()
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for partition in 0..<count {
                group.addTask {
                    let question = ArchiveDeleteRequested(replyTo: self.gatewayID, chatId: nil, partition: partition, departmentIds: departmentIds,
                                                          requestedBy: caller)
                    let answer = try await self.ask(.archiveDeleteRequested(question), key: "partition-\(partition)", partition: partition)
                    guard case .archiveDeleteAnswered(let result) = answer.event else { throw APIError.unavailable }
                    return result.deletedChatIds.count
                }
            }
            return try await group.reduce(0, +)
        }
    }
}

/// Every partition's chats merged in archive order, oldest first, a page per partition at
/// a time: memory stays flat however many chats follow.
struct ArchiveMerge: Sendable {
    let client: ArchiveClient
    let filter: ArchiveFilter
    let pageSize: Int
    /// How many chats the merge yields, counted when it began.
    let total: Int
    private var pending: [Int32: (chats: [ArchivedChat], index: Int, next: ArchiveCursor?)] = [:]

    init(client: ArchiveClient, filter: ArchiveFilter, pageSize: Int, pages: [ArchiveSearchAnswered]) {
        self.client = client
        self.filter = filter
        self.pageSize = pageSize
        total = pages.reduce(0) { $0 + ($1.total ?? 0) }
        for page in pages { pending[page.partition] = (page.chats, 0, page.next) }
    }

    /// The next chat, or nil at the end.
    mutating func next() async throws -> ArchivedChat? {
        // Refill every partition whose page is used up, then take the smallest head.
        for (partition, state) in pending where state.index == state.chats.count {
            if let next = state.next {
                let page = try await client.page(filter, partition: partition, after: next, newestFirst: false, limit: pageSize, full: true)
                pending[partition] = (page.chats, 0, page.next)
            } else {
                pending[partition] = nil
            }
        }
        let heads = pending.compactMap { partition, state in state.index < state.chats.count ? (partition, state.chats[state.index]) : nil }
        guard let (partition, chat) = heads.min(by: { $0.1.cursor < $1.1.cursor }) else { return nil }
        pending[partition]?.index += 1
        return chat
    }
}

extension ChatOperations {
    /// A6: asks every service to forget the visitor. The request goes to every partition of
    /// `chat.conversations` (gateways, archivers) and `chat.commands` (routers), since the
    /// visitor's chats may live on any of them; it returns once this gateway's view holds
    /// none of the visitor's chats.
    func eraseVisitor(_ visitorId: String) async throws {
        let open = try await read { try GatewayStore.openChatCount($0, visitorId: visitorId) }
        guard open == 0 else {
            throw APIError(.conflict, "chat_open", "End your chat first; then your data can be deleted.")
        }
        do {
            var records: [WireRecord] = []
            for topic in [Topic.chatCommands, .chatConversations] {
                let partitions = try await producer.partitionCount(topic: topic.name)
                // One event per partition: consumers skip an event id they applied before,
                // and each partition's owner must apply its own.
                records += (0..<partitions).map { partition in
                    WireRecord(topic: topic, key: visitorId, envelope: envelope(.visitorErasureRequested(VisitorErasureRequested(visitorId: visitorId))),
                               partition: partition)
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { [producer] group in
                for record in records { group.addTask { _ = try await producer.send(record) } }
                // The contact number's record goes too (compaction drops it).
                group.addTask { _ = try await producer.send(KafkaOutgoingRecord.tombstone(topic: Topic.visitorContacts.name, key: visitorId)) }
                try await group.waitForAll()
            }
        } catch {
            throw APIError.unavailable
        }
        guard try await readUntilInView({ try GatewayStore.chatCount($0, visitorId: visitorId) }, until: { $0 == 0 }) != nil else {
            throw APIError.timeout
        }
    }
}
