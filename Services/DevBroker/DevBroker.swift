import ArgumentParser
import ChatKafka
import ChatWire
import Foundation

/// Hosts librdkafka's mock cluster as the embedded development broker: a Kafka-protocol
/// broker on loopback, memory only, with every topic of `Topic` created at its partition
/// count. It writes its bootstrap address to a file so the launcher and tests find it.
@main
struct DevBroker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Embedded Kafka-protocol broker for development and tests (memory only).")

    @Option(help: "File to write the bootstrap address (host:port) to, once the topics exist.")
    var bootstrapFile: String?

    @Option(help: "Number of mock brokers.")
    var brokers: Int = 1

    @Flag(help: "Ignore SIGINT and stop only on SIGTERM: a launcher stops the broker after the services, even when Ctrl-C reached the whole process group.")
    var ignoreInterrupt = false

    @Option(help: "An extra topic as name:partitions (repeatable), e.g. for benchmarks.")
    var extraTopic: [String] = []

    func validate() throws {
        guard (1...5).contains(brokers) else { throw ValidationError("--brokers must be between 1 and 5") }
        _ = try extraTopics()
    }

    func extraTopics() throws -> [(name: String, partitions: Int)] {
        try extraTopic.map { text in
            let parts = text.split(separator: ":")
            guard parts.count == 2, let partitions = Int(parts[1]), (1...100).contains(partitions), !parts[0].isEmpty else {
                throw ValidationError("--extra-topic must be name:partitions with 1 to 100 partitions, got '\(text)'")
            }
            return (String(parts[0]), partitions)
        }
    }

    func run() throws {
        let cluster = try KafkaMockCluster(brokers: brokers)
        for topic in Topic.allCases {
            try cluster.createTopic(topic.name, partitions: topic.partitions)
        }
        for topic in try extraTopics() {
            try cluster.createTopic(topic.name, partitions: topic.partitions)
        }
        let bootstrap = cluster.bootstrapServers
        if let bootstrapFile {
            // Write then rename, so a reader never sees a half-written address.
            let temporary = bootstrapFile + ".tmp"
            try Data((bootstrap + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, bootstrapFile) == 0 else {
                throw ValidationError("cannot write \(bootstrapFile): \(String(cString: strerror(errno)))")
            }
        }
        // Written unbuffered, so a log file shows it at once.
        FileHandle.standardOutput.write(Data("dev-broker listening on \(bootstrap) with topics \(Topic.allCases.map { "\($0.name)(\($0.partitions))" }.joined(separator: ", "))\n".utf8))

        // Stay up until SIGINT or SIGTERM, then let the cluster go.
        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        signal(SIGINT, SIG_IGN)
        for signalNumber in ignoreInterrupt ? [SIGTERM] : [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        // SIGUSR1 takes every broker down and SIGUSR2 brings them back: a broker outage
        // that tests can cause from outside (the mock's fault injection works only here).
        for (signalNumber, up) in [(SIGUSR1, false), (SIGUSR2, true)] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                for broker in 1...Int32(brokers) { cluster.setBroker(broker, up: up) }
                FileHandle.standardOutput.write(Data("dev-broker: brokers \(up ? "up" : "down")\n".utf8))
            }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        if let bootstrapFile { try? FileManager.default.removeItem(atPath: bootstrapFile) }
        print("dev-broker stopped")
        withExtendedLifetime((cluster, sources)) {}
    }
}
