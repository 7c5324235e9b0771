import ChatWire
import Foundation
import Hummingbird

/// The archive's routes (E3, E4, E5, A6; docs/openapi.yaml): chat lists and search, one
/// archived chat, deleting, streamed exports, department settings, erasure.
struct ArchiveHTTP {
    let http: GatewayHTTP
    var operations: ChatOperations { http.operations }
    var archive: ArchiveClient { http.operations.archive }

    func register(on api: RouterGroup<BasicRequestContext>) {
        api.get("/archive/chats", use: list)
        api.delete("/archive/chats", use: deleteClosed)
        api.get("/archive/chats/:chatId", use: archivedChat)
        api.delete("/archive/chats/:chatId", use: deleteChat)
        api.get("/archive/export", use: export)
        api.get("/departments/:departmentId/settings", use: settings)
        api.put("/departments/:departmentId/settings", use: updateSettings)
        api.delete("/visitors/me", use: erase)
        api.post("/chats/:chatId/transcript/email", use: emailTranscript)
        api.post("/chats/:chatId/ticket", use: ticket)
    }

    // MARK: Deliveries (A7, E5)

    struct EmailBody: Decodable {
        var email: String
        var timeZone: String?
    }

    /// A7: the transcript as PDF by e-mail, for the chat's visitor or its agents.
    @Sendable func emailTranscript(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let chat = try await operations.visibleChat(try context.parameters.require("chatId"), to: caller)
        let body = try await decode(EmailBody.self, from: request)
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard EmailAddress.isValid(email) else { throw APIError.invalid("'\(email.prefix(80))' is not an e-mail address.") }
        let zone = try TranscriptDownload.timeZone(body.timeZone)
        let department = try await operations.read { try GatewayStore.department($0, id: chat.departmentId) }
        let question = TranscriptEmailRequested(replyTo: operations.gatewayID, chatId: chat.chatId, email: email, timeZone: zone.identifier,
                                                departmentName: department?.displayName ?? chat.departmentId, requestedBy: caller.participant)
        return try await queued(try await archive.ask(.transcriptEmailRequested(question), key: chat.chatId,
                                                      sealing: try await operations.sealing(visitorId: chat.visitor.id, caller: caller)), what: "E-mail")
    }

    struct TicketBody: Decodable { var note: String? }

    /// E5: hands the chat with its transcript to the ticket system (webhook); staff only.
    @Sendable func ticket(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff create tickets.") }
        let chat = try await operations.visibleChat(try context.parameters.require("chatId"), to: caller)
        let note = (try await decode(TicketBody.self, from: request).note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard note.count <= 2_000 else { throw APIError.invalid("note must have at most 2000 characters.") }
        let question = TicketRequested(replyTo: operations.gatewayID, chatId: chat.chatId, note: note, requestedBy: caller.participant)
        return try await queued(try await archive.ask(.ticketRequested(question), key: chat.chatId,
                                                      sealing: try await operations.sealing(visitorId: chat.visitor.id, caller: caller)), what: "The ticket system")
    }

    private func queued(_ answer: Envelope, what: String) async throws -> Response {
        guard case .deliveryQueued(let queued) = answer.event else { throw APIError.unavailable }
        switch queued.refusal {
        case nil: return jsonResponse(["deliveryId": queued.deliveryId ?? ""], status: .accepted)
        case "not_configured": throw APIError(.serviceUnavailable, "not_configured", "\(what) is not set up on this system.")
        default: throw APIError(.notFound, "transcript_not_found", "The archive has no transcript of this chat yet.")
        }
    }

    // MARK: Lists

    /// The departments whose archive the caller sees: nil for admins (all, also departments
    /// that no longer exist), their own for other staff.
    private func archiveDepartments(_ caller: Caller) async throws -> [String]? {
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff see the archive.") }
        return caller.has(.admin) ? nil : try await operations.visibleDepartments(caller)
    }

    /// Narrows the caller's departments to `departmentId` if given (404-free: a department
    /// the caller may not see just matches nothing).
    private func departments(_ visible: [String]?, narrowedTo requested: String?) throws -> [String]? {
        guard let requested, !requested.isEmpty else { return visible }
        guard WireID.isValid(requested) else { throw APIError.invalid("'\(requested)' is not a valid department id.") }
        return visible.map { $0.filter { $0 == requested } } ?? [requested]
    }

    /// E3: `GET /archive/chats?q=&departmentId=&agentId=&mine=true&visitorId=&from=&to=&closed=true&cursor=&limit=`.
    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let query = request.uri.queryParameters
        var filter = ArchiveFilter(departmentIds: try departments(try await archiveDepartments(caller), narrowedTo: query.get("departmentId")))
        filter.agentId = query.get("mine") == "true" ? caller.id : try ArchiveQuery.id(query.get("agentId"), "agentId")
        filter.visitorId = try ArchiveQuery.id(query.get("visitorId"), "visitorId")
        // Forms send spaces as `+`.
        if let name = query.get("q")?.replacingOccurrences(of: "+", with: " ").trimmingCharacters(in: .whitespaces), !name.isEmpty {
            guard name.count <= 100 else { throw APIError.invalid("q must have at most 100 characters.") }
            filter.name = name
        }
        filter.from = try ArchiveQuery.time(query.get("from"), "from")
        filter.to = try ArchiveQuery.time(query.get("to"), "to")
        filter.closedOnly = query.get("closed") == "true"
        let limit = try ArchiveQuery.limit(query.get("limit"))
        let page = try await archive.search(filter, after: try ArchiveQuery.cursor(query.get("cursor")), limit: limit)
        return jsonResponse(ArchivePage(chats: page.chats, nextCursor: page.next.map(ArchiveQuery.token)))
    }

    struct ArchivePage: Encodable {
        var chats: [ArchivedChat]
        var nextCursor: String?
    }

    /// One archived chat with its story and transcript.
    @Sendable func archivedChat(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let chatId = try context.parameters.require("chatId")
        guard WireID.isValid(chatId) else { throw APIError.chatNotFound }
        guard let chat = try await archive.chat(chatId, filter: ArchiveFilter(departmentIds: try await archiveDepartments(caller))) else {
            throw APIError.chatNotFound
        }
        return jsonResponse(["chat": chat])
    }

    // MARK: Deleting (E4)

    /// Deleting needs the supervisor role (for the chat's departments) or admin.
    private func deletingDepartments(_ caller: Caller) async throws -> [String]? {
        guard caller.has(.supervisor) || caller.has(.admin) else {
            throw APIError(.forbidden, "forbidden", "Deleting chats needs the supervisor or admin role.")
        }
        return try await archiveDepartments(caller)
    }

    @Sendable func deleteChat(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        let chatId = try context.parameters.require("chatId")
        guard WireID.isValid(chatId) else { throw APIError.chatNotFound }
        let departments = try await deletingDepartments(caller)
        // The chat must be one the caller may see: the archive answers for their departments only.
        guard try await archive.search(ArchiveFilter(departmentIds: departments, chatId: chatId), after: nil, limit: 1).chats.isEmpty == false else {
            throw APIError.chatNotFound
        }
        try await archive.delete(chatId, by: caller.participant)
        return jsonResponse(["deletedChatIds": [chatId]])
    }

    /// "Delete all closed chats" of the caller's departments (or of `departmentId`).
    @Sendable func deleteClosed(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        guard request.uri.queryParameters.get("status") == "closed" else {
            throw APIError.invalid("Add status=closed: only closed chats can be deleted.")
        }
        let departments = try departments(try await deletingDepartments(caller), narrowedTo: request.uri.queryParameters.get("departmentId"))
        let count = departments?.isEmpty == true ? 0 : try await archive.deleteClosed(departmentIds: departments, by: caller.participant)
        return jsonResponse(["deleted": count])
    }

    // MARK: Exports (E5)

    /// `GET /archive/export?format=csv|json&from=&to=&departmentId=`: every chat queued in
    /// the range with its transcript, streamed as it is read (supervisors: their departments).
    @Sendable func export(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        guard caller.has(.supervisor) || caller.has(.admin) else {
            throw APIError(.forbidden, "forbidden", "Exports need the supervisor or admin role.")
        }
        let query = request.uri.queryParameters
        guard let format = ArchiveExport.Format(rawValue: query.get("format") ?? "csv") else {
            throw APIError.invalid("format must be csv or json.")
        }
        var filter = ArchiveFilter(departmentIds: try departments(try await archiveDepartments(caller), narrowedTo: query.get("departmentId")))
        filter.from = try ArchiveQuery.time(query.get("from"), "from")
        filter.to = try ArchiveQuery.time(query.get("to"), "to")
        // The first pages come before the status line, so a broker or archiver that is away
        // gets a clear 503/504 and the total goes out as a header (progress bars).
        let merge = try await archive.merge(filter)
        let body = ResponseBody { writer in
            var merge = merge
            var output = ArchiveExport.Writer(format: format)
            while let chat = try await merge.next() {
                if let chunk = output.add(chat) { try await writer.write(ByteBuffer(bytes: chunk)) }
            }
            try await writer.write(ByteBuffer(bytes: output.finish()))
            try await writer.finish(nil)
        }
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withFullDate])
        var headers: HTTPFields = [.contentType: format.contentType,
                                   .contentDisposition: "attachment; filename=\"chats-\(stamp).\(format.rawValue)\""]
        headers[ArchiveExport.totalHeader] = String(merge.total)
        return Response(status: .ok, headers: headers, body: body)
    }

    // MARK: Department settings

    @Sendable func settings(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        try operations.requireRole(.admin, caller)
        let id = try context.parameters.require("departmentId")
        guard WireID.isValid(id) else { throw APIError.invalid("'\(id)' is not a valid department id.") }
        let settings = try await operations.read { try GatewayStore.departmentSettings($0, id: id) }
        return jsonResponse(["settings": DepartmentSettingsView(id: id, settings)])
    }

    struct DepartmentSettingsView: Encodable {
        var departmentId: String
        var retentionDays: Int?
        var preChatForm: PreChatForm

        init(id: String, _ settings: DepartmentSettingsUpdated?) {
            departmentId = id
            retentionDays = settings?.retentionDays
            preChatForm = settings?.preChatForm ?? .empty
        }
    }

    /// Each setting is optional: one left out keeps its current value, so the console's
    /// screens can each send only their own.
    struct SettingsBody: Decodable {
        /// Null keeps closed chats.
        var retentionDays: Int??
        var preChatForm: PreChatForm?

        enum CodingKeys: String, CodingKey { case retentionDays, preChatForm }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            retentionDays = container.contains(.retentionDays) ? .some(try container.decodeIfPresent(Int.self, forKey: .retentionDays)) : .none
            preChatForm = try container.decodeIfPresent(PreChatForm.self, forKey: .preChatForm)
        }
    }

    @Sendable func updateSettings(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        try operations.requireRole(.admin, caller)
        let id = try context.parameters.require("departmentId")
        guard WireID.isValid(id) else { throw APIError.invalid("'\(id)' is not a valid department id.") }
        let body = try await decode(SettingsBody.self, from: request)
        if case .some(.some(let days)) = body.retentionDays, !DepartmentSettingsUpdated.retentionDaysRange.contains(days) {
            throw APIError.invalid("retentionDays must be between 1 and \(DepartmentSettingsUpdated.retentionDaysRange.upperBound), or null to keep chats.")
        }
        let form = try body.preChatForm.map(PreChatRules.checked)
        let current = try await operations.read { try GatewayStore.departmentSettings($0, id: id) }
        let settings = DepartmentSettingsUpdated(departmentId: id, retentionDays: body.retentionDays ?? current?.retentionDays,
                                                 preChatForm: form ?? current?.preChatForm, updatedBy: caller.participant)
        do {
            try await operations.producer.send(WireRecord(topic: .departmentSettings, key: id, envelope: operations.envelope(.departmentSettingsUpdated(settings))))
        } catch {
            throw APIError.unavailable
        }
        _ = try await operations.readUntilInView({ try GatewayStore.departmentSettings($0, id: id) }, until: { $0 == settings })
        return jsonResponse(["settings": DepartmentSettingsView(id: id, settings)])
    }

    // MARK: Erasure (A6)

    /// "Delete my data": every service forgets the visitor. Refused while a chat is open.
    @Sendable func erase(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await http.authenticate(request)
        guard caller.role == .visitor else { throw APIError(.forbidden, "forbidden", "Only a visitor can erase their own data.") }
        try await operations.eraseVisitor(caller.id)
        return jsonResponse(["erased": true], status: .accepted)
    }
}

/// A plausible e-mail address: one `@`, a dot in the domain, no spaces or control characters.
enum EmailAddress {
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return text.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !text.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F || "<>,;\"".unicodeScalars.contains($0) }
    }
}

/// Query parameters of the archive routes.
enum ArchiveQuery {
    static func id(_ text: String?, _ name: String) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard WireID.isValid(text) else { throw APIError.invalid("'\(text)' is not a valid \(name).") }
        return text
    }

    /// ISO 8601 time (`2026-11-23T10:00:00Z`) or day (`2026-11-23`, midnight UTC).
    static func time(_ text: String?, _ name: String) throws -> Date? {
        guard let text, !text.isEmpty else { return nil }
        if let time = WireTime.parse(text) ?? ISO8601DateFormatter().date(from: text) { return time }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        guard let date = day.date(from: text) else {
            throw APIError.invalid("\(name) must be an ISO 8601 time such as 2026-11-23T10:00:00Z or a day such as 2026-11-23.")
        }
        return date
    }

    static func limit(_ text: String?) throws -> Int {
        guard let text else { return 50 }
        guard let limit = Int(text), (1...100).contains(limit) else { throw APIError.invalid("limit must be between 1 and 100.") }
        return limit
    }

    /// Cursors travel as opaque base64url JSON.
    static func token(_ cursor: ArchiveCursor) -> String {
        Base64URL.encode((try? WireCodec.encodeValue(cursor)) ?? Data())
    }

    static func cursor(_ text: String?) throws -> ArchiveCursor? {
        guard let text, !text.isEmpty else { return nil }
        guard let data = Base64URL.decode(text), let cursor = try? WireCodec.decodeValue(ArchiveCursor.self, from: data) else {
            throw APIError.invalid("cursor is not one this API returned.")
        }
        return cursor
    }
}
