import ChatWire
@testable import GatewayCore
import Foundation
import Testing

struct PreChatRulesTests {
    static let form = PreChatForm(
        fields: [.init(id: "company", label: "Firma", kind: .text, required: true),
                 .init(id: "mail", label: "E-mail", kind: .email, required: false),
                 .init(id: "phone", label: "Phone", kind: .phone, required: false),
                 .init(id: "notes", label: "Notes", kind: .textarea, required: false),
                 .init(id: "product", label: "Product", kind: .select, required: false, options: ["Bread", "Cake"])],
        categories: ["Billing", "Technical"], categoryRequired: true)

    func refusedField(_ fields: [String: String], category: String? = "Billing", requireAnswers: Bool = true) -> String? {
        do {
            _ = try PreChatRules.answers(to: Self.form, fields: fields, category: category, requireAnswers: requireAnswers)
            return nil
        } catch let error as APIError {
            #expect(error.code == "prechat_invalid" && error.status.code == 422)
            return error.field
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func answersComeInFormOrderTrimmedWithoutEmptyOnes() throws {
        let answers = try #require(try PreChatRules.answers(
            to: Self.form, fields: ["product": "Cake", "company": "  Bäckerei  ", "phone": " ", "notes": "Zeile 1\nZeile 2"], category: " Technical "))
        #expect(answers.answers.map(\.id) == ["company", "notes", "product"])
        #expect(answers.answers.first == .init(id: "company", label: "Firma", value: "Bäckerei"))
        #expect(answers.category == "Technical")
    }

    @Test func eachRuleNamesItsField() {
        #expect(refusedField([:]) == "company")
        #expect(refusedField(["company": "   "]) == "company")
        #expect(refusedField(["company": "A", "mail": "not-an-address"]) == "mail")
        #expect(refusedField(["company": "A", "phone": "12"]) == "phone")
        #expect(refusedField(["company": "A", "phone": "call me 1234"]) == "phone")
        #expect(refusedField(["company": "A", "product": "Pie"]) == "product")
        #expect(refusedField(["company": "A", "size": "44"]) == "size")
        #expect(refusedField(["company": "line 1\nline 2"]) == "company")
        #expect(refusedField(["company": String(repeating: "x", count: 201)]) == "company")
        #expect(refusedField(["company": "A", "notes": String(repeating: "x", count: 2001)]) == "notes")
        #expect(refusedField(["company": "A"], category: nil) == "category")
        #expect(refusedField(["company": "A"], category: "Gossip") == "category")
        #expect(refusedField(["company": "A", "phone": "+49 (30) 123-45/6", "mail": "a@b.de"]) == nil)
    }

    @Test func anOfflineMessageNeedsNoAnswersButWhatIsGivenIsChecked() throws {
        #expect(try PreChatRules.answers(to: Self.form, fields: [:], category: nil, requireAnswers: false) == nil)
        #expect(refusedField(["phone": "nope"], category: nil, requireAnswers: false) == "phone")
    }

    @Test func aDepartmentWithoutAFormTakesNoAnswers() throws {
        #expect(try PreChatRules.answers(to: .empty, fields: [:], category: nil) == nil)
        #expect(throws: APIError.self) { try PreChatRules.answers(to: .empty, fields: ["company": "A"], category: nil) }
        #expect(throws: APIError.self) { try PreChatRules.answers(to: .empty, fields: [:], category: "Billing") }
    }

    @Test func formsAreCheckedAndTrimmed() throws {
        let checked = try PreChatRules.checked(PreChatForm(
            fields: [.init(id: "product", label: " Product ", kind: .select, required: true, options: [" Bread", "Cake "])],
            categories: [" Billing "], categoryRequired: true))
        #expect(checked.fields.first?.label == "Product" && checked.fields.first?.options == ["Bread", "Cake"])
        #expect(checked.categories == ["Billing"])
        let bad: [PreChatForm] = [
            PreChatForm(fields: [.init(id: "Firma", label: "Firma", kind: .text, required: true)], categories: [], categoryRequired: false),
            PreChatForm(fields: [.init(id: "a", label: "A", kind: .text, required: true), .init(id: "a", label: "B", kind: .text, required: true)],
                        categories: [], categoryRequired: false),
            PreChatForm(fields: [.init(id: "a", label: " ", kind: .text, required: true)], categories: [], categoryRequired: false),
            PreChatForm(fields: [.init(id: "a", label: "A", kind: .init(rawValue: "colour"), required: true)], categories: [], categoryRequired: false),
            PreChatForm(fields: [.init(id: "a", label: "A", kind: .select, required: true)], categories: [], categoryRequired: false),
            PreChatForm(fields: [.init(id: "a", label: "A", kind: .text, required: true, options: ["x"])], categories: [], categoryRequired: false),
            PreChatForm(fields: [], categories: [], categoryRequired: true),
            PreChatForm(fields: [], categories: ["Billing", "Billing "], categoryRequired: false),
            PreChatForm(fields: (0...20).map { .init(id: "f\($0)", label: "F", kind: .text, required: false) }, categories: [], categoryRequired: false),
        ]
        for form in bad {
            #expect(throws: APIError.self, "\(form)") { try PreChatRules.checked(form) }
        }
    }
}
