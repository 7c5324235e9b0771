import DeliveryTestServers
import ArchiverDelivery
import Foundation
import GRDB
import Testing

@Suite("The deliveries table")
struct DeliveryOutboxTests {
    static let hook = Delivery.webhook(WebhookRequest(url: "https://example.test/hook", eventType: "e", body: Array("{}".utf8)))

    @Test func enqueueIsIdempotentByID() async throws {
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        let count = try await store.database.write { db in
            try DeliveryOutbox.enqueue(db, id: "d1", subject: "visitor-1", delivery: Self.hook, now: Date())
            try DeliveryOutbox.enqueue(db, id: "d1", subject: "visitor-1", delivery: .mail(MailMessage(to: ["x@example.test"], subject: "s", text: "t")), now: Date())
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries") ?? 0
        }
        #expect(count == 1)
        let kind = try await store.database.read { db in try String.fetchOne(db, sql: "SELECT kind FROM deliveries WHERE id = 'd1'") }
        #expect(kind == "webhook")
        #expect(try await TestSupport.status(store, "d1") == DeliveryStatus(state: "pending", attempts: 0, lastError: nil))
        #expect(try await TestSupport.status(store, "unknown") == nil)
    }

    @Test func removeAllDropsOnlyThatSubject() async throws {
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        let (removed, left) = try await store.database.write { db in
            try DeliveryOutbox.enqueue(db, id: "a1", subject: "visitor-a", delivery: Self.hook, now: Date())
            try DeliveryOutbox.enqueue(db, id: "a2", subject: "visitor-a", delivery: Self.hook, now: Date())
            try DeliveryOutbox.enqueue(db, id: "b1", subject: "visitor-b", delivery: Self.hook, now: Date())
            try DeliveryOutbox.enqueue(db, id: "n1", subject: nil, delivery: Self.hook, now: Date())
            let removed = try DeliveryOutbox.removeAll(db, subject: "visitor-a")
            return (removed, try String.fetchAll(db, sql: "SELECT id FROM deliveries ORDER BY id"))
        }
        #expect(removed == 2)
        #expect(left == ["b1", "n1"])
    }

    @Test func pruneDropsOnlyOldFinishedRows() async throws {
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        let now = Date()
        let left = try await store.database.write { db in
            for id in ["old-delivered", "old-failed", "new-delivered", "pending"] {
                try DeliveryOutbox.enqueue(db, id: id, subject: nil, delivery: Self.hook, now: now)
            }
            let old = now.addingTimeInterval(-8 * 86_400).timeIntervalSince1970
            try db.execute(sql: "UPDATE deliveries SET status = 'delivered', finished_at = ? WHERE id = 'old-delivered'", arguments: [old])
            try db.execute(sql: "UPDATE deliveries SET status = 'failed', finished_at = ? WHERE id = 'old-failed'", arguments: [old])
            try db.execute(sql: "UPDATE deliveries SET status = 'delivered', finished_at = ? WHERE id = 'new-delivered'", arguments: [now.timeIntervalSince1970])
            try DeliveryOutbox.prune(db, finishedBefore: now.addingTimeInterval(-7 * 86_400))
            return try String.fetchAll(db, sql: "SELECT id FROM deliveries ORDER BY id")
        }
        #expect(left == ["new-delivered", "pending"])
    }

    @Test func payloadRoundTripsThroughJSON() throws {
        let mail = Delivery.mail(MailMessage(to: ["a@example.test"], subject: "ä", text: "t",
                                             attachments: [MailAttachment(filename: "f.pdf", contentType: "application/pdf", data: Array(0...255))]))
        for delivery in [mail, Self.hook] {
            let json = try JSONEncoder().encode(delivery)
            #expect(try JSONDecoder().decode(Delivery.self, from: json) == delivery)
        }
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test func delaysGrowAndAreCappedWithoutJitter() {
        let policy = RetryPolicy(initialDelay: .seconds(5), multiplier: 2, maxDelay: .seconds(60), maxAttempts: 10, jitter: 0)
        let delays = (1...8).map { policy.delay(afterAttempt: $0, random: 0.7) }
        #expect(delays == [.seconds(5), .seconds(10), .seconds(20), .seconds(40), .seconds(60), .seconds(60), .seconds(60), .seconds(60)])
    }

    @Test func defaultsMatchTheDocumentation() {
        let policy = RetryPolicy()
        #expect(policy.initialDelay == .seconds(5))
        #expect(policy.multiplier == 2)
        #expect(policy.maxDelay == .seconds(900))
        #expect(policy.maxAttempts == 10)
        #expect(policy.jitter == 0.2)
    }

    @Test func jitterStaysWithinItsBandAndUnderTheCap() {
        let policy = RetryPolicy()
        for attempt in 1...40 {
            let nominal = min(5 * pow(2, Double(attempt - 1)), 900)
            var seen: [Double] = []
            for random in stride(from: 0.0, to: 1.0, by: 0.05) + [0.999_999] {
                let seconds = policy.delay(afterAttempt: attempt, random: random).seconds
                #expect(seconds >= nominal * 0.8 - 1e-9)
                #expect(seconds <= min(nominal * 1.2, 900) + 1e-9)
                seen.append(seconds)
            }
            if nominal < 900 { #expect(Set(seen).count > 10, "jitter spreads the delays") }
            #expect(seen == seen.sorted(), "a larger random never gives a shorter delay")
        }
        // Growth survives jitter: the lowest of attempt n+1 is above the highest of attempt n while uncapped.
        for attempt in 1...5 {
            #expect(policy.delay(afterAttempt: attempt + 1, random: 0).seconds > policy.delay(afterAttempt: attempt, random: 0.999).seconds)
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
