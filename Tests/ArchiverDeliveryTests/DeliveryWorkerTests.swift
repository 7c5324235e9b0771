import DeliveryTestServers
import ArchiverDelivery
import ChatStore
import Foundation
import GRDB
import ServiceLifecycle
import Testing

@Suite("Webhooks through the delivery worker, against a real HTTP receiver")
struct DeliveryWorkerTests {
    static let secret = "whsec-test-🔑"
    static let fast = RetryPolicy(initialDelay: .milliseconds(20), multiplier: 2, maxDelay: .milliseconds(80), maxAttempts: 4, jitter: 0.2)
    static let body = Array(#"{"chat_id":"c1","visitor":"Jürgen"}"#.utf8)

    /// The shared HTTPClient retries a refused connection until the request's deadline,
    /// so `timeout` is what an attempt at a closed port takes.
    func worker(_ store: ServiceStore, policy: RetryPolicy = fast, mailer: SMTPClient? = nil, timeout: Duration = .seconds(5)) -> DeliveryWorker {
        DeliveryWorker(database: store.database, mailer: mailer, webhooks: WebhookClient(secret: Self.secret, timeout: timeout),
                       policy: policy, pollInterval: .milliseconds(25), logger: TestSupport.logger)
    }

    func enqueue(_ store: ServiceStore, id: String, url: String, subject: String? = "visitor-1") async throws {
        try await store.database.write { db in
            try DeliveryOutbox.enqueue(db, id: id, subject: subject,
                                       delivery: .webhook(WebhookRequest(url: url, eventType: "chat.transcript_ready", body: Self.body)), now: Date())
        }
    }

    /// Runs `worker` until `body` returns, then cancels it and waits for it to end.
    func running<T>(_ worker: DeliveryWorker, _ body: () async throws -> T) async throws -> T {
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        let result = try await body()
        task.cancel()
        try await task.value
        return result
    }

    @Test func transientFailuresAreRetriedUntilDelivered() async throws {
        let receiver = try await WebhookReceiver.start(secret: Self.secret, failFirst: 2)
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        try await enqueue(store, id: "delivery-1", url: "http://127.0.0.1:\(receiver.port)/hook")
        let status = try await running(worker(store)) { try await TestSupport.waitUntilFinished(store, "delivery-1") }
        await receiver.stop()

        #expect(status == DeliveryStatus(state: "delivered", attempts: 3, lastError: nil))
        let requests = receiver.requests
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.deliveryID == "delivery-1" })
        #expect(requests.allSatisfy { $0.signatureValid })
        #expect(requests.allSatisfy { $0.body == Self.body })
        #expect(requests.allSatisfy { $0.event == "chat.transcript_ready" })
        #expect(requests.allSatisfy { $0.contentType == "application/json" && $0.userAgent == "livechat-webhooks/1" })
        let now = Int(Date().timeIntervalSince1970)
        #expect(requests.allSatisfy { abs(($0.timestamp ?? 0) - now) < 60 })
    }

    @Test func notFoundFailsAfterOneAttempt() async throws {
        let receiver = try await WebhookReceiver.start(secret: Self.secret)
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        try await enqueue(store, id: "delivery-404", url: "http://127.0.0.1:\(receiver.port)/missing")
        let status = try await running(worker(store)) { try await TestSupport.waitUntilFinished(store, "delivery-404") }
        await receiver.stop()

        #expect(status?.state == "failed")
        #expect(status?.attempts == 1)
        #expect(status?.lastError?.contains("404") == true)
    }

    @Test func unreachableReceiverFailsAfterMaxAttempts() async throws {
        let port = try await TestSupport.unusedPort()
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        try await enqueue(store, id: "delivery-down", url: "http://127.0.0.1:\(port)/hook")
        let status = try await running(worker(store, timeout: .milliseconds(500))) {
            try await TestSupport.waitUntilFinished(store, "delivery-down")
        }

        #expect(status?.state == "failed")
        #expect(status?.attempts == Self.fast.maxAttempts)
        #expect(status?.lastError?.isEmpty == false)
    }

    @Test func invalidURLAndMissingClientFailPermanently() async throws {
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        try await enqueue(store, id: "ftp", url: "ftp://127.0.0.1/hook")
        try await store.database.write { db in
            try DeliveryOutbox.enqueue(db, id: "mail", subject: nil, delivery: .mail(MailMessage(to: ["a@example.test"], subject: "s", text: "t")), now: Date())
        }
        let statuses = try await running(worker(store)) {
            [try await TestSupport.waitUntilFinished(store, "ftp"), try await TestSupport.waitUntilFinished(store, "mail")]
        }
        #expect(statuses.map { $0?.state } == ["failed", "failed"])
        #expect(statuses.map { $0?.attempts } == [1, 1])
        #expect(statuses[1]?.lastError?.contains("SMTP") == true)
    }

    @Test func mailIsDeliveredThroughTheWorker() async throws {
        let sink = try await SMTPSink.start()
        defer { Task { await sink.stop() } }
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        let mailer = SMTPClient(settings: SMTPSettings(host: "127.0.0.1", port: sink.port, from: "archiver@livechat.test", timeout: .seconds(5)))
        let message = MailMessage(to: ["visitor@example.test"], subject: "Ihr Transkript", text: "Hallo",
                                  attachments: [MailAttachment(filename: "t.pdf", contentType: "application/pdf", data: [0, 1, 2, 255])])
        try await store.database.write { db in
            try DeliveryOutbox.enqueue(db, id: "mail-1", subject: "visitor-1", delivery: .mail(message), now: Date())
        }
        let worker = worker(store, mailer: mailer)
        let status = try await running(worker) {
            worker.wake()
            return try await TestSupport.waitUntilFinished(store, "mail-1")
        }
        #expect(status == DeliveryStatus(state: "delivered", attempts: 1, lastError: nil))
        #expect(sink.messages.count == 1)
        #expect(ParsedMessage(try #require(sink.messages.first).data).header("Message-ID")?.hasPrefix("<mail-1@") == true)
    }

    @Test func wakeStartsAPassBeforeThePollInterval() async throws {
        let receiver = try await WebhookReceiver.start(secret: Self.secret)
        let store = try TestSupport.store(in: TestSupport.temporaryDirectory())
        let worker = DeliveryWorker(database: store.database, mailer: nil, webhooks: WebhookClient(secret: Self.secret),
                                    policy: Self.fast, pollInterval: .seconds(3600), logger: TestSupport.logger)
        let status = try await running(worker) {
            try await Task.sleep(for: .milliseconds(100))  // the first (empty) pass is over; now it sleeps for an hour
            try await enqueue(store, id: "woken", url: "http://127.0.0.1:\(receiver.port)/hook")
            worker.wake()
            return try await TestSupport.waitUntilFinished(store, "woken", timeout: .seconds(10))
        }
        await receiver.stop()
        #expect(status?.state == "delivered")
    }

    @Test func nothingIsLostAcrossARestart() async throws {
        let port = try await TestSupport.unusedPort()
        let directory = try TestSupport.temporaryDirectory()
        let patient = RetryPolicy(initialDelay: .milliseconds(20), multiplier: 2, maxDelay: .milliseconds(50), maxAttempts: 1_000, jitter: 0)

        // First life: the receiver is down; the delivery is tried and stays pending.
        do {
            let store = try TestSupport.store(in: directory)
            try await enqueue(store, id: "restart-1", url: "http://127.0.0.1:\(port)/hook")
            let group = ServiceGroup(services: [worker(store, policy: patient, timeout: .milliseconds(500))], logger: TestSupport.logger)
            let run = Task { try await group.run() }
            #expect(try await TestSupport.waitUntil { (try await TestSupport.status(store, "restart-1")?.attempts ?? 0) >= 2 })
            await group.triggerGracefulShutdown()
            try await run.value
            let status = try await TestSupport.status(store, "restart-1")
            #expect(status?.state == "pending")
            #expect(status?.lastError?.isEmpty == false)
        }

        // Second life: a new store and worker on the same file, the receiver is up.
        let receiver = try await WebhookReceiver.start(secret: Self.secret, port: port)
        let store = try TestSupport.store(in: directory)
        let status = try await running(worker(store, policy: patient)) {
            let status = try await TestSupport.waitUntilFinished(store, "restart-1")
            try await Task.sleep(for: .milliseconds(200))  // a second send would show up by now
            return status
        }
        await receiver.stop()
        #expect(status?.state == "delivered")
        #expect(receiver.requests.count == 1)
        #expect(receiver.requests.first?.deliveryID == "restart-1")
        #expect(receiver.requests.first?.signatureValid == true)
    }
}
