import CRDKafka
import Foundation

/// Owns one `rd_kafka_t`. librdkafka handles are thread-safe for the calls we make on
/// them (produce, poll, assign, metadata), so sharing the pointer across threads is sound;
/// the handle is destroyed exactly once, in `deinit`, after its owner stopped polling.
final class RDKafkaClient: @unchecked Sendable {
    enum Kind { case producer, consumer }

    private let handle: OpaquePointer

    /// Builds the configuration, lets `prepare` install callbacks and the opaque pointer,
    /// and creates the handle (which takes ownership of the configuration).
    init(kind: Kind, properties: [String: String], prepare: (OpaquePointer) -> Void = { _ in }) throws {
        guard let configuration = rd_kafka_conf_new() else {
            throw KafkaError(configuration: "rd_kafka_conf_new failed")
        }
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(configuration, key, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(configuration)
                throw KafkaError(configuration: "\(key)=\(value): \(string(fromCBuffer: errorText))")
            }
        }
        prepare(configuration)
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        guard let created = rd_kafka_new(type, configuration, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(configuration)
            throw KafkaError(configuration: string(fromCBuffer: errorText))
        }
        handle = created
    }

    /// Lends the raw handle for the duration of `body`; it must not escape.
    func withHandle<Result>(_ body: (OpaquePointer) throws -> Result) rethrows -> Result {
        try body(handle)
    }

    /// Number of partitions of `topic`, from a metadata request (blocking, up to `timeoutMilliseconds`).
    func partitionCount(topic: String, timeoutMilliseconds: Int32) throws -> Int32 {
        let topicHandle = rd_kafka_topic_new(handle, topic, nil)
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle, 0, topicHandle, &metadata, timeoutMilliseconds)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(code: error, context: "metadata for \(topic)")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt == 1, let topicMetadata = metadata.pointee.topics?.pointee else {
            throw KafkaError(configuration: "no metadata for topic \(topic)")
        }
        if topicMetadata.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(code: topicMetadata.err, context: "topic \(topic)")
        }
        return topicMetadata.partition_cnt
    }

    deinit {
        rd_kafka_destroy(handle)
    }
}

extension rd_kafka_resp_err_t {
    var isError: Bool { self != RD_KAFKA_RESP_ERR_NO_ERROR }
}

/// Text of a NUL-terminated C buffer that librdkafka filled.
func string(fromCBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
