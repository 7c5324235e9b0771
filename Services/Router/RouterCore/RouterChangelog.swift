import ChatKafka
import ChatRuntime
import ChatStore
import ChatWire
import Foundation
import GRDB
import Logging

/// The router's changelog topic: writing snapshots, reading each partition's latest, and
/// recognising work a restarted instance must not publish because another took over.
struct RouterChangelog: Sendable {
    let configuration: KafkaConsumerConfiguration
    let logger: Logger

    /// The snapshot as a record on the partition of the same number as its commands.
    func record(_ snapshot: RouterPartitionSnapshot, producer: String) -> WireRecord {
        WireRecord(topic: .routerChangelog, key: RouterPartitionSnapshot.key(partition: snapshot.partition),
                   envelope: Envelope(producer: producer, event: .routerPartitionSnapshot(snapshot)), partition: snapshot.partition)
    }

    /// The topic's partition count from the broker (the catalog's if it cannot tell).
    func partitionCount(of topic: Topic) -> Int32 {
        if let count = try? BrokerRetry.blocking("partition count of \(topic.name)", attempts: 20, logger: logger, {
            try KafkaLatestRecords.partitionCount(configuration: configuration, topic: topic.name)
        }) { return count }
        logger.warning("partition count unknown; using the catalog's", metadata: ["topic": "\(topic.name)"])
        return Int32(topic.partitions)
    }

    /// The latest snapshot of each partition that has one. Retries while the broker does
    /// not answer (up to about 30 s), then reports none: the store's own state serves.
    func latestSnapshots(of partitions: [Int32]) -> [Int32: RouterPartitionSnapshot] {
        guard let records = try? BrokerRetry.blocking("read the changelog", logger: logger, {
            try KafkaLatestRecords.read(configuration: configuration, topic: Topic.routerChangelog.name, partitions: partitions)
        }) else {
            logger.error("changelog unreadable; continuing from the local store")
            return [:]
        }
        var snapshots: [Int32: RouterPartitionSnapshot] = [:]
        for (partition, record) in records {
            guard let envelope = try? WireCodec.decode(record.value), case .routerPartitionSnapshot(let snapshot) = envelope.event,
                  snapshot.partition == partition else {
                logger.warning("unreadable changelog record; ignored", metadata: ["partition": "\(partition)", "offset": "\(record.offset)"])
                continue
            }
            snapshots[partition] = snapshot
        }
        return snapshots
    }

    /// After a crash the outbox may hold work for partitions that another instance has
    /// taken over since (the changelog shows a later epoch). Publishing it would undo that
    /// instance's decisions, so it is dropped; the new owner decided those commands again.
    func dropStaleOutbox(in store: ServiceStore) throws {
        let (pending, positions) = try store.database.read { db in
            (try Outbox.count(db), try Row.fetchAll(db, sql: "SELECT partition, epoch FROM partition_state").map { (Int32($0["partition"] as Int64), $0["epoch"] as Int64) })
        }
        guard pending > 0, !positions.isEmpty else { return }
        let latest = latestSnapshots(of: positions.map(\.0))
        let stale = Set(positions.filter { partition, epoch in (latest[partition]?.epoch ?? 0) > epoch }.map(\.0))
        guard !stale.isEmpty else { return }
        let dropped = try store.database.write { db -> Int in
            var sequences: [Int64] = []
            for entry in try Outbox.next(db, limit: Int.max) {
                let partition: Int32?
                if entry.topic == Topic.routerChangelog.name {
                    partition = entry.partition
                } else if let chatId = (try? WireCodec.decode(entry.value))?.event.chatId {
                    partition = try RouterStore.partition(db, chatId: chatId)
                } else {
                    partition = nil
                }
                if let partition, stale.contains(partition) { sequences.append(entry.sequence) }
            }
            try Outbox.remove(db, sequences: sequences)
            return sequences.count
        }
        logger.warning("dropped unpublished work of partitions another instance took over", metadata: [
            "partitions": "\(stale.sorted())", "records": "\(dropped)",
        ])
    }
}
