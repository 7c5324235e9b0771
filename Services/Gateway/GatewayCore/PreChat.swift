import ChatWire
import Foundation

/// A3: the rules for an admin's pre-chat form and a visitor's answers to it. The widget
/// checks the same rules before sending; these are the ones that count.
enum PreChatRules {
    static let maxFields = 20
    static let maxOptions = 30
    static let maxCategories = 30
    static let maxLabelCharacters = 80
    static let maxCategoryCharacters = 60
    static let maxValueCharacters = 200
    static let maxTextareaCharacters = 2000

    // MARK: The admin's form

    /// The form as it will be stored (labels, options and categories trimmed), or an
    /// `invalid_request` naming the first problem.
    static func checked(_ form: PreChatForm) throws -> PreChatForm {
        guard form.fields.count <= maxFields else { throw APIError.invalid("A pre-chat form may have at most \(maxFields) fields.") }
        var checked = PreChatForm(fields: [], categories: [], categoryRequired: form.categoryRequired)
        var ids: Set<String> = []
        for (index, field) in form.fields.enumerated() {
            let place = "preChatForm.fields[\(index)]"
            guard isFieldId(field.id) else {
                throw APIError.invalid("\(place).id must be 1 to 32 lower-case letters, digits or _ (got '\(field.id)').")
            }
            guard ids.insert(field.id).inserted else { throw APIError.invalid("\(place).id '\(field.id)' is used twice.") }
            guard PreChatForm.Field.Kind.known.contains(field.kind) else {
                throw APIError.invalid("\(place).kind must be one of \(PreChatForm.Field.Kind.known.map(\.rawValue).joined(separator: ", ")).")
            }
            let label = try text(field.label, at: "\(place).label", limit: maxLabelCharacters)
            let options = try distinctTexts(field.options, at: "\(place).options", limit: maxLabelCharacters)
            if field.kind == .select {
                guard (1...maxOptions).contains(options.count) else { throw APIError.invalid("\(place) is a select field: it needs 1 to \(maxOptions) options.") }
            } else if !options.isEmpty {
                throw APIError.invalid("\(place).options are only for select fields.")
            }
            checked.fields.append(.init(id: field.id, label: label, kind: field.kind, required: field.required, options: options))
        }
        guard form.categories.count <= maxCategories else { throw APIError.invalid("A pre-chat form may have at most \(maxCategories) categories.") }
        checked.categories = try distinctTexts(form.categories, at: "preChatForm.categories", limit: maxCategoryCharacters)
        if checked.categoryRequired && checked.categories.isEmpty {
            throw APIError.invalid("preChatForm.categoryRequired needs at least one category.")
        }
        return checked
    }

    private static func isFieldId(_ id: String) -> Bool {
        (1...32).contains(id.utf8.count) && id.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") }
    }

    private static func text(_ raw: String, at place: String, limit: Int) throws -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= limit, !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError.invalid("\(place) must be 1 to \(limit) characters of text (got '\(raw.prefix(limit + 1))').")
        }
        return trimmed
    }

    private static func distinctTexts(_ raws: [String], at place: String, limit: Int) throws -> [String] {
        var seen: Set<String> = []
        return try raws.enumerated().map { index, raw in
            let value = try text(raw, at: "\(place)[\(index)]", limit: limit)
            guard seen.insert(value).inserted else { throw APIError.invalid("\(place) has '\(value)' twice.") }
            return value
        }
    }

    // MARK: The visitor's answers

    /// The visitor's answers checked against `form`, in the form's order, or a
    /// `prechat_invalid` naming the field. `requireAnswers` is false for an offline message,
    /// which has its own form: what is given is still checked.
    static func answers(to form: PreChatForm, fields: [String: String], category: String?, requireAnswers: Bool = true) throws -> PreChatAnswers? {
        let known = Set(form.fields.map(\.id))
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw refusal("There is no pre-chat field '\(unknown.prefix(40))' in this department's form.", field: unknown)
        }
        var answers: [PreChatAnswers.Answer] = []
        for field in form.fields {
            let value = (fields[field.id] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                if field.required && requireAnswers { throw refusal("\(field.label) is required.", field: field.id) }
                continue
            }
            try check(value, for: field)
            answers.append(.init(id: field.id, label: field.label, value: value))
        }
        let chosen = category?.trimmingCharacters(in: .whitespacesAndNewlines).nonEmpty
        if let chosen, !form.categories.contains(chosen) {
            throw refusal(form.categories.isEmpty ? "This department has no categories to choose from."
                                                  : "The category must be one of: \(form.categories.joined(separator: ", ")).", field: "category")
        }
        if chosen == nil && form.categoryRequired && requireAnswers {
            throw refusal("Choose what your request is about.", field: "category")
        }
        let result = PreChatAnswers(answers: answers, category: chosen)
        return result.isEmpty ? nil : result
    }

    private static func check(_ value: String, for field: PreChatForm.Field) throws {
        let limit = field.kind == .textarea ? maxTextareaCharacters : maxValueCharacters
        guard value.count <= limit else { throw refusal("\(field.label) may have at most \(limit) characters.", field: field.id) }
        switch field.kind {
        case .email where !EmailAddress.isValid(value):
            throw refusal("\(field.label) must be an e-mail address like name@example.com.", field: field.id)
        case .phone where !isPhoneNumber(value):
            throw refusal("\(field.label) must be a phone number: digits, spaces and + ( ) . / -, with at least 4 digits.", field: field.id)
        case .select where !field.options.contains(value):
            throw refusal("\(field.label) must be one of: \(field.options.joined(separator: ", ")).", field: field.id)
        case .textarea:
            break
        default:
            // One line of text; an unknown kind from a newer writer counts as text.
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw refusal("\(field.label) must be one line of text.", field: field.id)
            }
        }
    }

    static func isPhoneNumber(_ value: String) -> Bool {
        let allowed = Set("0123456789 +()./-")
        return (4...30).contains(value.count) && value.allSatisfy(allowed.contains) && value.filter(\.isNumber).count >= 4
    }

    private static func refusal(_ message: String, field: String) -> APIError {
        APIError(.unprocessableContent, "prechat_invalid", message, field: String(field.prefix(40)))
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
