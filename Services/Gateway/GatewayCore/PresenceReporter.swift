import ChatKafka
import ChatRuntime
import ChatWire
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Tells presence about this gateway's agent connections. Records go to the agent's
/// partition of `presence.commands` (`Partitioning`), so presence's owner of that agent gets
/// them in order. While a socket is open its `agent.connected` is repeated every heartbeat
/// interval: presence ends connections it stops hearing of (a gateway that died without a
/// word) and rebuilds them after it moved an agent to another presence instance.
final class PresenceReporter: Sendable {
    private let producer: KafkaProducer
    private let gatewayID: String
    private let partitions: Int32
    /// Open agent connections: connection id → agent id. Changing it and enqueueing the
    /// matching record happen under one lock, so a heartbeat never follows a disconnect.
    private let open = Mutex<[String: String]>([:])

    init(producer: KafkaProducer, gatewayID: String, partitions: Int32) {
        self.producer = producer
        self.gatewayID = gatewayID
        self.partitions = partitions
    }

    func connected(agentId: String, connectionId: String) async throws {
        try await send(agentId: agentId, .agentConnected(AgentConnected(agentId: agentId, connectionId: connectionId, gatewayId: gatewayID))) {
            $0[connectionId] = agentId
        }
    }

    /// `signedOut`: the socket closed because its session ended (sign-out), not a lost
    /// connection: no grace period if it was the agent's last.
    func disconnected(agentId: String, connectionId: String, signedOut: Bool = false) async throws {
        try await send(agentId: agentId, .agentDisconnected(AgentDisconnected(agentId: agentId, connectionId: connectionId, gatewayId: gatewayID,
                                                                              signedOut: signedOut ? true : nil))) {
            $0[connectionId] = nil
        }
    }

    /// Any other command about the agent (accounts, sessions, activity), in order with
    /// the agent's connection records.
    func command(agentId: String, _ event: WireEvent) async throws {
        try await command(agentId: agentId, envelope(event))
    }

    /// The same, for a command whose envelope the caller made (its time matters).
    func command(agentId: String, _ envelope: Envelope) async throws {
        do {
            _ = try await producer.enqueue(record(agentId: agentId, envelope).kafkaRecord).report
        } catch {
            throw APIError.unavailable
        }
    }

    func availability(_ change: AgentAvailabilitySet) async throws {
        try await send(agentId: change.agentId, .agentAvailabilitySet(change)) { _ in }
    }

    func queues(_ change: AgentQueuesSet) async throws {
        try await send(agentId: change.agentId, .agentQueuesSet(change)) { _ in }
    }

    /// Repeats `agent.connected` for every open agent connection.
    func heartbeat() {
        open.withLock { open in
            for (connectionId, agentId) in open.sorted(by: { $0.key < $1.key }) {
                _ = try? producer.enqueue(record(agentId: agentId, envelope(.agentConnected(
                    AgentConnected(agentId: agentId, connectionId: connectionId, gatewayId: gatewayID)))).kafkaRecord)
            }
        }
    }

    private func send(agentId: String, _ event: WireEvent, change: (inout [String: String]) -> Void) async throws {
        let ticket = try open.withLock { open in
            change(&open)
            return try producer.enqueue(record(agentId: agentId, envelope(event)).kafkaRecord)
        }
        _ = try await ticket.report
    }

    /// A new command from this gateway, correlated with the request being served.
    func envelope(_ event: WireEvent) -> Envelope {
        Envelope(correlationID: RequestCorrelation.id, producer: gatewayID, event: event)
    }

    private func record(agentId: String, _ envelope: Envelope) -> WireRecord {
        WireRecord(topic: .presenceCommands, key: agentId, envelope: envelope, partition: Partitioning.partition(forKey: agentId, count: partitions))
    }
}

/// Sends the heartbeats at a fixed interval.
struct PresenceHeartbeat: Service {
    let reporter: PresenceReporter
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            reporter.heartbeat()
        }
    }
}
