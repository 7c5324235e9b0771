import Crypto
import Foundation

// A6 on delete-policy topics (crypto-shredding). Kafka cannot delete one visitor's records
// from `chat.commands` or `chat.conversations` before retention does, so what a visitor
// wrote never goes there in clear: each personal string is sealed with the visitor's own
// key (AES-GCM), and the key lives only on the compacted `visitors.contacts` and in the
// keyrings of the services that read personal data (gateways, archivers). Erasure writes
// the key's tombstone; every copy of the visitor's words left on any topic becomes noise.

/// A visitor's 256-bit data key. On the wire: base64.
public struct VisitorKey: Sendable, Hashable, Codable {
    public let bytes: Data

    public init?(bytes: Data) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public static func generate() -> VisitorKey {
        VisitorKey(unchecked: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    private init(unchecked bytes: Data) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let data = Data(base64Encoded: try container.decode(String.self)), data.count == 32 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a visitor key is 32 bytes in base64")
        }
        bytes = data
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes.base64EncodedString())
    }
}

/// The sealed form of one personal string: `sealed:v1:<visitor id>:<base64url of nonce,
/// ciphertext and tag>`. It is a string, so services that never read personal data (the
/// router) store and forward it unchanged. The visitor id is authenticated data: a sealed
/// string cannot be moved to another visitor.
public enum SealedText {
    static let prefix = "sealed:v1:"
    /// What a reader shows for a sealed string whose key is gone (an erased visitor).
    public static let unreadable = "[erased]"

    public static func seal(_ text: String, owner: String, key: VisitorKey) -> String {
        // AES-GCM with a fresh random nonce cannot fail for a valid 256-bit key.
        // swiftlint:disable:next force_try
        let box = try! AES.GCM.seal(Data(text.utf8), using: SymmetricKey(data: key.bytes), authenticating: Data(owner.utf8))
        return prefix + owner + ":" + Base64URL.encode(box.combined ?? Data())
    }

    /// The visitor whose key opens `text`, if it is sealed.
    public static func owner(of text: String) -> String? {
        guard text.hasPrefix(prefix) else { return nil }
        let rest = text.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return String(rest[..<colon])
    }

    /// The clear text: `text` itself when not sealed, `unreadable` when its key is not in
    /// `keys` or it does not open.
    public static func open(_ text: String, keys: [String: VisitorKey]) -> String {
        guard let owner = owner(of: text) else { return text }
        let encoded = text.dropFirst(prefix.count + owner.utf8.count + 1)
        guard let key = keys[owner], let combined = Base64URL.decode(String(encoded)),
              let box = try? AES.GCM.SealedBox(combined: combined),
              let clear = try? AES.GCM.open(box, using: SymmetricKey(data: key.bytes), authenticating: Data(owner.utf8))
        else { return unreadable }
        return String(decoding: clear, as: UTF8.self)
    }
}

/// Base64 with the URL alphabet and no padding.
public enum Base64URL {
    public static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// How a producer seals a record: `owner` is the visitor the record is about (nil: none;
/// an archive answer names each chat's visitor itself), `keys` holds every key it needs.
public struct SealingContext: Sendable, Equatable {
    public var owner: String?
    public var keys: [String: VisitorKey]
    public init(owner: String?, keys: [String: VisitorKey]) {
        self.owner = owner
        self.keys = keys
    }
}

/// Visits every personal string of a value, with the visitor it belongs to (nil: the
/// record's owner is not known here; sealing then uses the record's).
typealias PersonalVisitor = (_ text: inout String, _ owner: String?) -> Void

extension Envelope {
    /// This envelope with every personal string sealed for its owner. A string whose
    /// owner's key is missing is replaced by `SealedText.unreadable`: never sent in clear.
    public func sealed(_ context: SealingContext) -> Envelope {
        var copy = self
        copy.event.visitPersonalData(owner: context.owner) { text, owner in
            guard let owner, SealedText.owner(of: text) == nil else { return }
            text = context.keys[owner].map { SealedText.seal(text, owner: owner, key: $0) } ?? SealedText.unreadable
        }
        return copy
    }

    /// The visitors whose keys `sealed(_:)` needs, for a record about `owner`.
    public func sealingOwners(owner: String?) -> Set<String> {
        var owners: Set<String> = []
        var copy = self
        copy.event.visitPersonalData(owner: owner) { text, owner in
            if let owner, SealedText.owner(of: text) == nil { owners.insert(owner) }
        }
        return owners
    }

    /// The visitors whose keys open this envelope's sealed strings.
    public var sealedOwners: Set<String> {
        var owners: Set<String> = []
        var copy = self
        copy.event.visitPersonalData(owner: nil) { text, _ in
            if let owner = SealedText.owner(of: text) { owners.insert(owner) }
        }
        return owners
    }

    /// Opens every sealed string with `keys`; those it cannot open read `[erased]`.
    public mutating func open(with keys: [String: VisitorKey]) {
        event.visitPersonalData(owner: nil) { text, _ in text = SealedText.open(text, keys: keys) }
    }
}

private func visit(_ text: inout String?, _ owner: String?, _ visitor: PersonalVisitor) {
    guard var value = text else { return }
    visitor(&value, owner)
    text = value
}

extension Participant {
    /// A visitor's name is theirs; agents' names are staff data and stay readable.
    mutating func visitPersonalData(owner: String?, _ visitor: PersonalVisitor) {
        guard role == .visitor else { return }
        visitor(&displayName, owner ?? id)
    }
}

extension Optional where Wrapped == Participant {
    mutating func visitPersonalData(owner: String?, _ visitor: PersonalVisitor) {
        guard var value = self else { return }
        value.visitPersonalData(owner: owner, visitor)
        self = value
    }
}

extension PreChatAnswers {
    /// The values; labels and the category come from the admin's form.
    mutating func visitPersonalData(owner: String?, _ visitor: PersonalVisitor) {
        for index in answers.indices { visitor(&answers[index].value, owner) }
    }
}

extension Optional where Wrapped == PreChatAnswers {
    mutating func visitPersonalData(owner: String?, _ visitor: PersonalVisitor) {
        guard var value = self else { return }
        value.visitPersonalData(owner: owner, visitor)
        self = value
    }
}

extension Transcript.Message {
    /// Every message of a visitor's chat is theirs, the agents' answers included (they
    /// quote and name the visitor).
    mutating func visitPersonalData(owner: String?, _ visitor: PersonalVisitor) {
        sender.visitPersonalData(owner: owner, visitor)
        visitor(&text, owner)
    }
}

extension Transcript {
    mutating func visitPersonalData(_ visitor: PersonalVisitor) {
        let owner = self.visitor.id
        self.visitor.visitPersonalData(owner: owner, visitor)
        for index in messages.indices { messages[index].visitPersonalData(owner: owner, visitor) }
    }
}

extension ArchivedChat {
    mutating func visitPersonalData(_ visitor: PersonalVisitor) {
        let owner = self.visitor.id
        self.visitor.visitPersonalData(owner: owner, visitor)
        closedBy.visitPersonalData(owner: owner, visitor)
        visit(&contactEmail, owner, visitor)
        preChat.visitPersonalData(owner: owner, visitor)
        guard var messages else { return }
        for index in messages.indices { messages[index].visitPersonalData(owner: owner, visitor) }
        self.messages = messages
    }
}

/// What a visitor gives when a chat starts (the request, and the router's `chat.queued`).
private func visitChatStart(_ participant: inout Participant, _ contactEmail: inout String?, _ preChat: inout PreChatAnswers?,
                            owner: String?, _ visitor: PersonalVisitor) {
    participant.visitPersonalData(owner: owner, visitor)
    visit(&contactEmail, owner ?? participant.id, visitor)
    preChat.visitPersonalData(owner: owner ?? participant.id, visitor)
}

extension WireEvent {
    /// Every personal string of the event. Events not listed carry none (ids, agents,
    /// departments, times), or only what a gateway sealed (the router's snapshots: the
    /// router forwards sealed strings and never opens them).
    mutating func visitPersonalData(owner: String?, _ visitor: PersonalVisitor) {
        switch self {
        case .chatStartRequested(var request):
            visitChatStart(&request.visitor, &request.contactEmail, &request.preChat, owner: owner, visitor)
            self = .chatStartRequested(request)
        case .chatQueued(var queued):
            visitChatStart(&queued.visitor, &queued.contactEmail, &queued.preChat, owner: owner, visitor)
            self = .chatQueued(queued)
        case .chatTransferIn(var transfer):
            transfer.visitor.visitPersonalData(owner: owner, visitor)
            self = .chatTransferIn(transfer)
        case .chatCloseRequested(var request):
            request.requestedBy.visitPersonalData(owner: owner, visitor)
            self = .chatCloseRequested(request)
        case .chatClosed(var closed):
            closed.closedBy.visitPersonalData(owner: owner, visitor)
            self = .chatClosed(closed)
        case .messagePosted(var message):
            message.sender.visitPersonalData(owner: owner, visitor)
            visitor(&message.text, owner)
            self = .messagePosted(message)
        case .chatTyping(var typing):
            typing.sender.visitPersonalData(owner: owner, visitor)
            self = .chatTyping(typing)
        case .transcriptAnswered(var answer):
            answer.transcript?.visitPersonalData(visitor)
            self = .transcriptAnswered(answer)
        case .archiveSearchAnswered(var answer):
            for index in answer.chats.indices { answer.chats[index].visitPersonalData(visitor) }
            self = .archiveSearchAnswered(answer)
        case .transcriptEmailRequested(var request):
            request.requestedBy.visitPersonalData(owner: owner, visitor)
            visitor(&request.email, owner)
            self = .transcriptEmailRequested(request)
        case .ticketRequested(var request):
            // The agent's note is about the visitor's chat.
            visitor(&request.note, owner)
            self = .ticketRequested(request)
        default:
            break
        }
    }
}
