import ChatKafka
import ChatRuntime
import ChatWire
import Foundation
import Synchronization

/// A10: tells the router whether each visitor still has their chats open on this gateway.
/// Counting a visitor's sockets and enqueueing the record happen under one lock, so a quick
/// reload's "present" is never overtaken by the closing page's "gone".
final class VisitorPresenceReporter: Sendable {
    private let producer: KafkaProducer
    private let gatewayID: String
    /// Open sockets per visitor id.
    private let sockets = Mutex<[String: Int]>([:])

    init(producer: KafkaProducer, gatewayID: String) {
        self.producer = producer
        self.gatewayID = gatewayID
    }

    func opened(visitorId: String, chats: [ChatView]) {
        sockets.withLock { sockets in
            sockets[visitorId, default: 0] += 1
            send(visitorId: visitorId, chats: chats, present: true)
        }
    }

    /// `chats`: the visitor's open chats, read before the call.
    func closed(visitorId: String, chats: [ChatView]) {
        sockets.withLock { sockets in
            let left = max(0, sockets[visitorId, default: 0] - 1)
            sockets[visitorId] = left == 0 ? nil : left
            if left == 0 { send(visitorId: visitorId, chats: chats, present: false) }
        }
    }

    private func send(visitorId: String, chats: [ChatView], present: Bool) {
        for chat in chats where chat.status != "closed" {
            let event = ChatVisitorPresence(chatId: chat.chatId, departmentId: chat.departmentId, visitorId: visitorId, present: present)
            let record = WireRecord(topic: .chatCommands, key: chat.departmentId,
                                    envelope: Envelope(correlationID: RequestCorrelation.id, producer: gatewayID, event: .chatVisitorPresence(event)))
            // Best effort: a lost "gone" only keeps a chat open; a lost "present" is repeated
            // by the next socket the visitor opens.
            _ = try? producer.enqueue(record.kafkaRecord)
        }
    }
}
