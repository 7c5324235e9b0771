import ChatWire
import Foundation
import Hummingbird

/// The public HTTP API (docs/openapi.yaml).
struct GatewayHTTP {
    let operations: ChatOperations
    let signer: AccessTokenSigner
    let hub: ConnectionHub

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("/api/v1")
        api.get("/departments") { _, _ in
            jsonResponse(["departments": try await operations.read { try GatewayStore.departments($0) }])
        }
        api.post("/visitors", use: createVisitor)
        api.post("/agents/sessions", use: createAgentSession)
        AccountsHTTP(http: self).register(on: api)
        ArchiveHTTP(http: self).register(on: api)
        api.put("/agents/me/availability", use: setAvailability)
        api.put("/agents/me/queues", use: setQueues)
        api.get("/queue", use: queue)
        api.get("/queues", use: queues)
        api.get("/people", use: people)
        api.post("/chats", use: startChat)
        api.get("/chats/:chatId", use: chat)
        api.post("/chats/:chatId/take", use: take)
        api.post("/chats/:chatId/close", use: close)
        api.post("/chats/:chatId/return", use: ownerAction(.returnToQueue))
        api.post("/chats/:chatId/park", use: ownerAction(.park))
        api.post("/chats/:chatId/unpark", use: ownerAction(.unpark))
        api.post("/chats/:chatId/transfer", use: transfer)
        api.post("/chats/:chatId/invite", use: invite)
        // Declining an offer; finishing the wrap-up of a closed chat (C8).
        api.post("/chats/:chatId/decline", use: ownerAction(.decline))
        api.post("/chats/:chatId/finish-wrapup", use: ownerAction(.finishWrapUp))
        api.get("/chats/:chatId/messages", use: messages)
        api.post("/chats/:chatId/messages", use: postMessage)
        api.get("/chats/:chatId/transcript", use: transcript)
        api.get("/chats/:chatId/transcript.pdf", use: transcriptPDF)
    }

    // MARK: Identities

    /// Without a name the visitor is anonymous and shown by their contact name.
    struct NewVisitor: Decodable { var displayName: String? }
    struct Session: Encodable {
        var token: String
        var role: String
        var id: String
        var displayName: String
        /// Visitors: "Guest-N" (E2).
        var contact: String? = nil
    }

    @Sendable func createVisitor(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await decode(NewVisitor.self, from: request)
        let name = try body.displayName.map(validDisplayName)
        let visitorId = "v-" + WireID.make()
        let contact = try await operations.registerContact(visitorId: visitorId)
        var caller = Caller(role: .visitor, id: visitorId, displayName: name ?? contact)
        caller.contact = contact
        return jsonResponse(Session(token: signer.issue(for: caller), role: "visitor", id: caller.id, displayName: caller.displayName, contact: contact),
                            status: .created)
    }

    struct Credentials: Decodable {
        var login: String
        var password: String
    }

    /// Staff sign-in (B1) with login name and password; rate limited per login name.
    @Sendable func createAgentSession(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await decode(Credentials.self, from: request)
        let login = body.login.trimmingCharacters(in: .whitespaces).lowercased()
        guard LoginName.isValid(login), body.password.count <= Passwords.lengths.upperBound else {
            throw APIError(.unauthorized, "wrong_credentials", "The login name or the password is wrong.")
        }
        return jsonResponse(try await operations.signIn(login: login, password: body.password), status: .created)
    }

    struct Availability: Decodable {
        var available: Bool?
        var busy: Bool?
    }

    @Sendable func setAvailability(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await decode(Availability.self, from: request)
        try await operations.setAvailability(body.available, busy: body.busy, agent: caller)
        return jsonResponse(["accepted": true], status: .accepted)
    }

    struct Queues: Decodable { var departmentIds: [String] }

    /// B5: log in to or out of queues.
    @Sendable func setQueues(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await decode(Queues.self, from: request)
        for id in body.departmentIds where !WireID.isValid(id) { throw APIError.invalid("'\(id)' is not a valid department id.") }
        try await operations.setQueues(body.departmentIds, agent: caller)
        return jsonResponse(["accepted": true], status: .accepted)
    }

    // MARK: Chats

    struct StartChat: Decodable {
        var departmentId: String
        /// The name the visitor gave in the pre-chat form; defaults to the token's name.
        var displayName: String?
        /// A2: left while the department is closed; queued anyway, with the text as its
        /// first message.
        var offlineMessage: OfflineMessageBody?
        /// A3: the answers to the department's pre-chat form.
        var preChat: PreChatBody?

        struct OfflineMessageBody: Decodable {
            var email: String
            var text: String
        }

        struct PreChatBody: Decodable {
            /// Field id to value.
            var fields: [String: String]?
            var category: String?
        }
    }

    @Sendable func startChat(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await decode(StartChat.self, from: request)
        try checkDepartmentOrigin(request, department: body.departmentId)
        var visitor = caller
        if let name = body.displayName {
            visitor.displayName = try validDisplayName(name)
        }
        let offline = body.offlineMessage.map { ChatOperations.OfflineMessage(email: $0.email.trimmingCharacters(in: .whitespaces), text: $0.text) }
        let preChat = body.preChat.map { ChatOperations.PreChatSubmission(fields: $0.fields ?? [:], category: $0.category) }
        let (chat, created) = try await operations.startChat(visitor: visitor, departmentId: body.departmentId, offlineMessage: offline, preChat: preChat)
        return jsonResponse(["chat": chat], status: created ? .created : .ok)
    }

    @Sendable func queue(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff see queues.") }
        let departments = try await operations.visibleDepartments(caller)
        return jsonResponse(["chats": try await operations.read { try GatewayStore.queue($0, departments: departments) }])
    }

    /// C11: the overview of the agent's departments.
    @Sendable func queues(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff see queues.") }
        let departments = try await operations.visibleDepartments(caller)
        return jsonResponse(["queues": try await operations.read { try GatewayStore.overview($0, departments: departments) }])
    }

    /// B4: the agents of the caller's departments with their state.
    @Sendable func people(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        guard caller.role == .agent else { throw APIError(.forbidden, "forbidden", "Only staff see people.") }
        let departments = try await operations.visibleDepartments(caller)
        return jsonResponse(["people": try await operations.read { try GatewayStore.people($0, sharing: departments) }])
    }

    @Sendable func chat(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        return jsonResponse(["chat": try await operations.visibleChat(try chatID(context), to: caller)])
    }

    @Sendable func take(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        return jsonResponse(["chat": try await operations.take(chatId: try chatID(context), agent: caller)])
    }

    @Sendable func close(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        return jsonResponse(["chat": try await operations.close(chatId: try chatID(context), caller: caller)])
    }

    /// Handler for an owner action that takes no body (return, park, unpark, decline,
    /// finish wrap-up).
    func ownerAction(_ action: ChatOwnerActionRequested.Action) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, context in
            let caller = try await authenticate(request)
            return jsonResponse(["chat": try await operations.ownerAction(action, chatId: try chatID(context), agent: caller)])
        }
    }

    struct Transfer: Decodable {
        var toDepartmentId: String?
        var toAgentId: String?
    }

    @Sendable func transfer(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await decode(Transfer.self, from: request)
        return jsonResponse(["chat": try await operations.ownerAction(.transfer, chatId: try chatID(context), agent: caller,
                                                                      toDepartmentId: body.toDepartmentId, toAgentId: body.toAgentId)])
    }

    struct Invitation: Decodable { var agentId: String }

    @Sendable func invite(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await decode(Invitation.self, from: request)
        return jsonResponse(["chat": try await operations.ownerAction(.invite, chatId: try chatID(context), agent: caller, toAgentId: body.agentId)])
    }

    @Sendable func messages(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let chat = try await operations.visibleChat(try chatID(context), to: caller)
        let afterText = request.uri.queryParameters.get("afterSeq") ?? "0"
        guard let after = Int(afterText), after >= 0 else { throw APIError.invalid("afterSeq must be a whole number of 0 or more.") }
        return jsonResponse(["messages": try await operations.read { try GatewayStore.messages($0, chatId: chat.chatId, after: after) }])
    }

    struct NewMessage: Decodable {
        var clientMessageId: String
        var text: String
    }

    @Sendable func postMessage(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await decode(NewMessage.self, from: request)
        let accepted = try await operations.post(chatId: try chatID(context), clientMessageId: body.clientMessageId, text: body.text, sender: caller) { department in
            if caller.role == .visitor { try checkDepartmentOrigin(request, department: department) }
        }
        return jsonResponse(accepted, status: .accepted)
    }

    @Sendable func transcript(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        return jsonResponse(["transcript": try await operations.transcript(chatId: try chatID(context), caller: caller)])
    }

    // MARK: Helpers

    private func validDisplayName(_ text: String) throws -> String {
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...80).contains(name.count) else { throw APIError.invalid("displayName must have 1 to 80 characters.") }
        return name
    }

    /// The caller of the request's bearer token (staff: checked against the directory).
    /// An agent's request counts as activity (B2).
    func authenticate(_ request: Request) async throws -> Caller {
        let caller = try await operations.authenticate(token: try bearerToken(request))
        if caller.role == .agent, request.method != .get { await operations.noteActivity(of: caller) }
        return caller
    }

    /// The department's own site list (`GATEWAY_DEPARTMENT_ORIGINS`) for browser requests.
    func checkDepartmentOrigin(_ request: Request, department: String) throws {
        guard operations.configuration.departmentOrigins.allows(request.headers[.origin], department: department, gatewayHost: request.head.authority)
        else { throw APIError(.forbidden, "origin_not_allowed", "This site may not use the chat of this department.") }
    }

    func bearerToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw APIError.unauthorized }
        return String(header.dropFirst("Bearer ".count))
    }

    private func chatID(_ context: BasicRequestContext) throws -> String {
        try context.parameters.require("chatId")
    }
}

/// Reads a JSON request body of at most 64 KiB, with a clear error for anything else.
func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: 65_536)
    } catch {
        throw APIError(.contentTooLarge, "body_too_large", "The request body may have at most 64 KiB.")
    }
    return try decodeJSON(type, from: Data(buffer.readableBytesView))
}

func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch DecodingError.keyNotFound(let key, _) {
        throw APIError.malformed("The field '\(key.stringValue)' is missing.")
    } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
        throw APIError.malformed("The field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type.")
    } catch {
        throw APIError.malformed("The body is not valid JSON.")
    }
}
