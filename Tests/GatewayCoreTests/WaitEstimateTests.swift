import ChatStore
import Foundation
@testable import GatewayCore
import GRDB
import Testing

/// A8: a waiting visitor's estimate comes from recent handling times, shared by the agents
/// in the queue; before any chat closed, from recent waits.
@Suite struct WaitEstimateTests {
    func store() throws -> ServiceStore {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString).sqlite").path
        return try ServiceStore(path: path, migrations: GatewayStore.migrations)
    }

    func insertChat(_ db: Database, _ id: String, status: String, queuedAt: Double, assignedAt: Double? = nil, closedAt: Double? = nil, handled: Double = 0) throws {
        try db.execute(sql: """
            INSERT INTO chats (id, department_id, visitor_id, visitor_name, status, queued_at, assigned_at, closed_at, handled_seconds)
            VALUES (?, 'support', ?, 'V', ?, ?, ?, ?, ?)
            """, arguments: [id, "v-" + id, status, queuedAt, assignedAt, closedAt, handled])
    }

    func insertAgent(_ db: Database, _ id: String, status: String, queues: [String]? = nil) throws {
        try db.execute(sql: "INSERT INTO agents (id, display_name, department_ids, status, available, queues) VALUES (?, ?, '[\"support\"]', ?, 1, ?)",
                       arguments: [id, id, status, queues.map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) }])
    }

    @Test func waitsFirstThenHandlingTimesSharedByTheAgentsInTheQueue() throws {
        let store = try store()
        try store.database.write { db in
            try insertChat(db, "a", status: "assigned", queuedAt: 0, assignedAt: 30)
            try insertChat(db, "w1", status: "queued", queuedAt: 100)
            try insertChat(db, "w2", status: "queued", queuedAt: 101)
        }
        // Nothing closed yet: 30 s of waiting per place.
        #expect(try store.database.read { try GatewayStore.chat($0, id: "w2")?.estimatedWaitSeconds } == 60)
        try store.database.write { db in
            try insertChat(db, "c1", status: "closed", queuedAt: 0, closedAt: 400, handled: 200)
            try insertChat(db, "c2", status: "closed", queuedAt: 0, closedAt: 500, handled: 400)
            try insertAgent(db, "alice", status: "online")
            try insertAgent(db, "bob", status: "online")
            try insertAgent(db, "carol", status: "online", queues: [])   // logged out of the queue
            try insertAgent(db, "dave", status: "offline")
        }
        // 300 s of handling on average, shared by two agents: 150 s a place.
        #expect(try store.database.read { try GatewayStore.chat($0, id: "w1")?.estimatedWaitSeconds } == 150)
        #expect(try store.database.read { try GatewayStore.queue($0, departments: ["support"]).map(\.estimatedWaitSeconds) } == [150, 300])
        try store.database.write { db in try db.execute(sql: "UPDATE agents SET status = 'offline'") }
        #expect(try store.database.read { try GatewayStore.chat($0, id: "w1")?.estimatedWaitSeconds } == 300, "nobody there: one at a time")
    }
}

@Suite struct DepartmentOriginsTests {
    @Test func listsPerDepartmentAndBadEntriesRefused() throws {
        let origins = try DepartmentOrigins("support=https://a.example, https://b.example ; sales=*")
        #expect(origins.allows("https://b.example", department: "support", gatewayHost: nil))
        #expect(!origins.allows("https://c.example", department: "support", gatewayHost: nil))
        #expect(origins.allows("https://c.example", department: "sales", gatewayHost: nil))
        #expect(origins.allows("https://c.example", department: "other", gatewayHost: nil), "unlisted departments are not limited")
        #expect(origins.allows(nil, department: "support", gatewayHost: nil), "not a browser")
        #expect(origins.allows("http://gw:8080", department: "support", gatewayHost: "gw:8080"), "the gateway's own pages")
        #expect(throws: (any Error).self) { try DepartmentOrigins("support") }
        #expect(throws: (any Error).self) { try DepartmentOrigins("support=https://a.example;support=https://b.example") }
        #expect(throws: (any Error).self) { try DepartmentOrigins("bad id=https://a.example") }
    }
}
