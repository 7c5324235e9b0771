import CRDKafka
import Foundation
import Logging
import Synchronization

/// An idempotent Kafka producer with delivery reports.
///
/// `enqueue` hands a record to librdkafka without blocking and returns a ticket whose
/// `report` resolves when the broker acknowledged it. A dedicated thread (not Swift's
/// cooperative pool, which has only as many threads as cores) polls for delivery reports.
/// `shutdown()` flushes what is in flight and stops the thread; call it last.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let logger: Logger
    private let running = Atomic<Bool>(true)
    private let pollThreadDone = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let pollThreadFinished = Atomic<Bool>(false)
    /// Set when the flush must end now (the shutdown was cancelled).
    private let flushAbandoned = Atomic<Bool>(false)
    private let flushTimeout: Duration

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.logger = logger
        flushTimeout = .milliseconds(configuration.flushTimeoutMilliseconds)
        client = try RDKafkaClient(kind: .producer, properties: configuration.properties) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                guard let message, let opaque = message.pointee._private else { return }
                let ticket = Unmanaged<DeliveryTicket>.fromOpaque(opaque).takeRetainedValue()
                let error = message.pointee.err
                if error.isError {
                    ticket.settle(.failure(KafkaError(code: error, context: "delivery")))
                } else {
                    let topic = String(cString: rd_kafka_topic_name(message.pointee.rkt))
                    ticket.settle(.success(KafkaDeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
                }
            }
        }
        let thread = Thread { self.pollUntilShutdown() }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    /// Body of the dedicated poll thread: serves delivery reports until shutdown, then
    /// flushes what is in flight and fails what could not be delivered.
    private func pollUntilShutdown() {
        while running.load(ordering: .acquiring) {
            client.withHandle { _ = rd_kafka_poll($0, 50) }
        }
        // Flush in short slices so a cancelled shutdown stops waiting at once.
        let deadline = ContinuousClock.now + flushTimeout
        var error: rd_kafka_resp_err_t
        repeat {
            error = client.withHandle { rd_kafka_flush($0, 100) }
        } while error.isError && ContinuousClock.now < deadline && !flushAbandoned.load(ordering: .acquiring)
        if error.isError {
            logger.error("producer flush did not finish", metadata: ["error": "\(KafkaError(code: error, context: "flush"))"])
            client.withHandle { handle in
                _ = rd_kafka_purge(handle, Int32(crdkafka_purge_all))
                _ = rd_kafka_poll(handle, 0)
            }
        }
        finishPollThread()
    }

    private func finishPollThread() {
        pollThreadFinished.store(true, ordering: .releasing)
        pollThreadDone.withLock { continuation in
            continuation?.resume()
            continuation = nil
        }
    }

    /// Hands `record` to librdkafka. Fails at once when the local queue is full or the
    /// producer is shut down; otherwise the ticket tells how delivery ended.
    @discardableResult
    public func enqueue(_ record: KafkaOutgoingRecord) throws(KafkaError) -> DeliveryTicket {
        guard running.load(ordering: .acquiring) else { throw KafkaError.shutDown }
        let ticket = DeliveryTicket()
        let opaque = Unmanaged.passRetained(ticket).toOpaque()
        let error = client.withHandle { handle in
            record.key.withUnsafeBytes { key in
                record.value.withUnsafeBytes { value in
                    // librdkafka writes a null value (a tombstone) only for a NULL pointer.
                    crdkafka_produce(handle, record.topic, record.partition ?? crdkafka_partition_unassigned, key.baseAddress, key.count,
                                     record.isTombstone ? nil : value.baseAddress, record.isTombstone ? 0 : value.count, opaque)
                }
            }
        }
        if error.isError {
            Unmanaged<DeliveryTicket>.fromOpaque(opaque).release()
            throw KafkaError(code: error, context: "produce to \(record.topic)")
        }
        return ticket
    }

    /// Enqueues and waits for the delivery report.
    public func send(_ record: KafkaOutgoingRecord) async throws -> KafkaDeliveryReport {
        try await enqueue(record).report
    }

    /// Stops accepting records, flushes those in flight (up to the configured flush timeout,
    /// or until the calling task is cancelled) and stops polling. What could not be
    /// delivered is dropped and its tickets fail; callers that must not lose a record keep
    /// it in an outbox until its ticket succeeds.
    public func shutdown() async {
        running.store(false, ordering: .releasing)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let alreadyDone = pollThreadDone.withLock { waiting -> Bool in
                    if pollThreadFinished.load(ordering: .acquiring) { return true }
                    waiting = continuation
                    return false
                }
                if alreadyDone { continuation.resume() }
            }
        } onCancel: {
            flushAbandoned.store(true, ordering: .releasing)
        }
    }

    /// Partition count of `topic` as the broker reports it.
    public func partitionCount(topic: String) async throws -> Int32 {
        try await runBlocking { [client] in try client.partitionCount(topic: topic, timeoutMilliseconds: 5_000) }
    }
}

/// Runs a blocking librdkafka call on a Dispatch thread so it never occupies one of the
/// few threads of Swift's cooperative pool.
func runBlocking<T: Sendable>(on queue: DispatchQueue = .global(), _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result { try body() }) }
    }
}
