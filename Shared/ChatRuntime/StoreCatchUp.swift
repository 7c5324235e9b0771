import ChatKafka
import ChatStore
import Foundation

/// Waiting until a store's consumer has read some topics as far as the broker has them.
public enum StoreCatchUp {
    public enum Outcome: Sendable, Equatable {
        case caughtUp
        /// The broker did not answer with the topics' ends.
        case endsUnknown
        case timedOut
    }

    /// Blocks until `store` has consumed every partition of `topics` up to the end it had
    /// when this was called (records written before the call are applied). Blocking: call it
    /// on a thread of its own (`OffPool`, a rebalance callback).
    public static func wait(store: ServiceStore, reader: KafkaConsumerConfiguration, topics: [String], timeout: Duration) -> Outcome {
        guard let ends = try? topics.map({ try KafkaLatestRecords.endOffsets(configuration: reader, topic: $0) }) else { return .endsUnknown }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let read = (try? store.database.read { try ConsumerOffsets.load($0, topics: topics) }) ?? [:]
            let caughtUp = zip(topics, ends).allSatisfy { topic, topicEnds in
                topicEnds.allSatisfy { partition, end in end == 0 || (read[topic]?[partition] ?? 0) >= end }
            }
            if caughtUp { return .caughtUp }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return .timedOut
    }
}
