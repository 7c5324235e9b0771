import ChatDevKit
import Foundation
import Testing

/// A3, C2, D2, E1: an admin defines a department's pre-chat form; visitors' answers are
/// checked by the gateway, travel with the chat to agents and into the archive.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct PreChatFormTests {
    static let accounts = [TestAccounts.standard,
                           TestAccounts.entry("root", name: "Root Admin", departments: ["support", "sales"], roles: ["agent", "admin"])].joined(separator: ";")

    static let form = #"""
        {"fields": [{"id": "company", "label": "Firma", "kind": "text", "required": true, "options": []},
                    {"id": "phone", "label": "Phone", "kind": "phone", "required": false, "options": []},
                    {"id": "product", "label": "Product", "kind": "select", "required": false, "options": ["Bread", "Cake"]}],
         "categories": ["Billing", "Technical"], "categoryRequired": true}
        """#
    static let emptyForm = #"{"fields": [], "categories": [], "categoryRequired": false}"#

    @Test func answersAreCheckedAndTravelWithTheChatToAgentsAndTheArchive() async throws {
        try await RunningSystem.with(environment: ["PRESENCE_AGENTS": Self.accounts]) { system in
            let client = system.client
            let alice = try await system.connectAgent("alice")
            let root = try await client.agent("root")
            let path = "/api/v1/departments/support/settings"

            // Only admins define forms; a bad form is refused and changes nothing.
            func body(_ json: String) -> Data { Data(json.utf8) }
            #expect(try await client.request("PUT", path, token: alice.token, body: body(#"{"preChatForm": \#(Self.form)}"#)).status == 403)
            let badForms = [
                #"{"fields": [{"id": "Company!", "label": "Firma", "kind": "text", "required": true, "options": []}], "categories": [], "categoryRequired": false}"#,
                #"{"fields": [{"id": "product", "label": "Product", "kind": "select", "required": true, "options": []}], "categories": [], "categoryRequired": false}"#,
                #"{"fields": [{"id": "a", "label": "A", "kind": "colour", "required": true, "options": []}], "categories": [], "categoryRequired": false}"#,
                #"{"fields": [], "categories": [], "categoryRequired": true}"#,
                #"{"fields": [], "categories": ["Billing", "Billing"], "categoryRequired": false}"#,
            ]
            for bad in badForms {
                let refused = try await client.request("PUT", path, token: root, body: body(#"{"preChatForm": \#(bad)}"#))
                #expect(refused.status == 422, "\(bad): \(refused.text)")
            }
            #expect(try await client.request("GET", path, token: root).body["settings"]?["preChatForm"]?["fields"]?.array.isEmpty == true)

            let saved = try await client.request("PUT", path, token: root, body: body(#"{"preChatForm": \#(Self.form), "retentionDays": 30}"#))
            #expect(saved.status == 200, "\(saved.text)")
            #expect(saved.body["settings"]?["preChatForm"]?["fields"]?.array.map { $0["id"]?.string ?? "" } == ["company", "phone", "product"])
            // A setting left out keeps its value: the retention screen does not wipe the form.
            let retention = try await client.request("PUT", path, token: root, json: ["retentionDays": 60])
            #expect(retention.body["settings"]?["retentionDays"]?.int == 60)
            #expect(retention.body["settings"]?["preChatForm"]?["categories"]?.array.map { $0.string ?? "" } == ["Billing", "Technical"])

            // The public department list shows the form to widgets.
            try await eventually("the form in the public department list") {
                let departments = try await client.request("GET", "/api/v1/departments").body["departments"]?.array ?? []
                return departments.first { $0["departmentId"]?.string == "support" }?["preChatForm"]?["categoryRequired"]?.bool == true
            }

            // The gateway checks answers whatever the widget did; refusals open no chat.
            let visitor = try await client.visitor(named: "Grete Müller")
            let refusals: [(String, String)] = [
                (#"{"fields": {"phone": "+49 30 1234"}, "category": "Billing"}"#, "company"),
                (#"{"fields": {"company": "Bäckerei", "phone": "call me"}, "category": "Billing"}"#, "phone"),
                (#"{"fields": {"company": "Bäckerei", "product": "Pie"}, "category": "Billing"}"#, "product"),
                (#"{"fields": {"company": "Bäckerei", "shoeSize": "44"}, "category": "Billing"}"#, "shoeSize"),
                (#"{"fields": {"company": "Bäckerei"}}"#, "category"),
                (#"{"fields": {"company": "Bäckerei"}, "category": "Gossip"}"#, "category"),
            ]
            for (preChat, field) in refusals {
                let refused = try await client.request("POST", "/api/v1/chats", token: visitor.token,
                                                       body: body(#"{"departmentId": "support", "preChat": \#(preChat)}"#))
                #expect(refused.status == 422 && refused.body["error"]?["code"]?.string == "prechat_invalid", "\(field): \(refused.text)")
                #expect(refused.body["error"]?["field"]?.string == field)
            }
            let noForm = try await client.request("POST", "/api/v1/chats", token: visitor.token, json: ["departmentId": "support"])
            #expect(noForm.status == 422 && noForm.body["error"]?["field"]?.string == "company")
            #expect(try await client.request("GET", "/api/v1/queue", token: alice.token).body["chats"]?.array.isEmpty == true)

            let started = try await client.request("POST", "/api/v1/chats", token: visitor.token, body: body(#"""
                {"departmentId": "support", "preChat": {"fields": {"company": "  Bäckerei Müller ", "phone": "", "product": "Cake"}, "category": "Technical"}}
                """#))
            #expect(started.status == 201, "\(started.text)")
            let chatId = try #require(started.body["chat"]?["chatId"]?.string)
            let expected = [["company", "Firma", "Bäckerei Müller"], ["product", "Product", "Cake"]]

            // C2: agents see the answers in the queue and on the chat.
            let queued = try await eventuallyValue("the chat in alice's queue") {
                try await client.request("GET", "/api/v1/queue", token: alice.token).body["chats"]?.array.first { $0["chatId"]?.string == chatId }
            }
            #expect(queued["preChat"]?["category"]?.string == "Technical")
            #expect(queued["preChat"]?["answers"]?.array.map { [$0["id"]?.string ?? "", $0["label"]?.string ?? "", $0["value"]?.string ?? ""] } == expected)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/take", token: alice.token).status == 200)
            let shown = try await client.request("GET", "/api/v1/chats/\(chatId)", token: alice.token)
            #expect(shown.body["chat"]?["preChat"]?["answers"]?.array.count == 2)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/messages", token: visitor.token,
                                             json: ["clientMessageId": "m1", "text": "Der Ofen ist kalt"]).status == 202)
            #expect(try await client.request("POST", "/api/v1/chats/\(chatId)/close", token: alice.token).status == 200)

            // E1: the archive keeps them; exports carry them.
            let archived = try await eventuallyValue("the chat archived with its answers") { () -> JSON? in
                let reply = try await client.request("GET", "/api/v1/archive/chats/\(chatId)", token: alice.token)
                guard let chat = reply.body["chat"], chat["closedAt"]?.string != nil else { return nil }
                return chat
            }
            #expect(archived["preChat"]?["category"]?.string == "Technical")
            #expect(archived["preChat"]?["answers"]?.array.map { $0["value"]?.string ?? "" } == ["Bäckerei Müller", "Cake"])
            let csv = try await client.request("GET", "/api/v1/archive/export?format=csv", token: root)
            #expect(csv.status == 200)
            #expect(csv.text.contains("Technical") && csv.text.contains("Firma: Bäckerei Müller"))

            // The form is changed later: chats keep the answers as they were asked.
            #expect(try await client.request("PUT", path, token: root, body: body(#"{"preChatForm": \#(Self.emptyForm)}"#)).status == 200)
            let later = try await client.request("GET", "/api/v1/archive/chats/\(chatId)", token: alice.token)
            #expect(later.body["chat"]?["preChat"]?["answers"]?.array.first?["label"]?.string == "Firma")
            let plain = try await client.visitor(named: "Otto")
            try await eventually("a visitor without answers starts a chat once the form is gone") {
                try await client.request("POST", "/api/v1/chats", token: plain.token, json: ["departmentId": "support"]).status == 201
            }
        }
    }
}
