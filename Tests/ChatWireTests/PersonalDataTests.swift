@testable import ChatWire
import Foundation
import Testing

/// A6 crypto-shredding: what is sealed, how it opens, and what an erased key leaves.
struct PersonalDataTests {
    static let key = VisitorKey(bytes: Data((0..<32).map { UInt8($0) }))!
    static let otherKey = VisitorKey(bytes: Data(repeating: 7, count: 32))!

    /// The documented form, made by another AES-GCM implementation (Python's `cryptography`,
    /// nonce 0x64...0x6f, key 0x00...0x1f): this build must open it.
    static let golden = "sealed:v1:v-7f3c:ZGVmZ2hpamtsbW5vD2kd2rp2dtlRFivJ-pX1bMm7fVmzrrX45QaDTKyZ3Nf1"

    @Test func goldenSealedStringOpens() {
        #expect(SealedText.owner(of: Self.golden) == "v-7f3c")
        #expect(SealedText.open(Self.golden, keys: ["v-7f3c": Self.key]) == "Grüß Gott! 👋")
        #expect(SealedText.open(Self.golden, keys: ["v-7f3c": Self.otherKey]) == SealedText.unreadable)
        #expect(SealedText.open(Self.golden, keys: [:]) == SealedText.unreadable)
        // Moved to another visitor, the authenticated id no longer matches.
        let moved = Self.golden.replacingOccurrences(of: "v-7f3c", with: "v-other")
        #expect(SealedText.open(moved, keys: ["v-other": Self.key]) == SealedText.unreadable)
        #expect(SealedText.open("plain words", keys: [:]) == "plain words")
    }

    @Test func everyPersonalStringIsSealedAndOpensAgain() throws {
        let visitor = Samples.visitor
        let sealing = SealingContext(owner: visitor.id, keys: [visitor.id: Self.key])
        let start = Envelope(occurredAt: Samples.time, producer: "gateway-1", event: .chatStartRequested(ChatStartRequested(
            chatId: "c-1", departmentId: "support", visitor: visitor, contactEmail: "grete@example.org", preChat: Samples.preChat, contact: "Guest-42")))
        let message = Envelope(occurredAt: Samples.time, producer: "gateway-1", event: .messagePosted(MessagePosted(chatId: "c-1", messageId: "m-1", sender: Samples.agent,
                                                                                           text: "Hallo Grete Müller")))
        for original in [start, message] {
            let bytes = WireCodec.encode(original.sealed(sealing))
            let text = String(decoding: bytes, as: UTF8.self)
            for secret in ["Grete", "grete@example.org", "Bäckerei"] { #expect(!text.contains(secret), "\(secret) in \(text)") }
            var read = try WireCodec.decode(bytes)
            #expect(read.sealedOwners == [visitor.id])
            read.open(with: [visitor.id: Self.key])
            #expect(read == original)
        }
        // What is not personal stays readable to services that never open (the router).
        let text = String(decoding: WireCodec.encode(start.sealed(sealing)), as: UTF8.self)
        for clear in ["\"support\"", "\"v-7f3c\"", "Guest-42", "Firma", "Billing"] { #expect(text.contains(clear), "\(clear) missing") }
        #expect(String(decoding: WireCodec.encode(message.sealed(sealing)), as: UTF8.self).contains("Alice Adams"), "agents' names stay clear")
    }

    @Test func withoutTheKeyNothingIsReadableOrSentInClear() throws {
        let visitor = Samples.visitor
        let message = Envelope(producer: "gateway-1", event: .messagePosted(MessagePosted(chatId: "c-1", messageId: "m-1", sender: visitor, text: "secret words")))
        // A producer without the key writes the placeholder, never the clear text.
        let unsealed = String(decoding: WireCodec.encode(message.sealed(SealingContext(owner: visitor.id, keys: [:]))), as: UTF8.self)
        #expect(!unsealed.contains("secret") && !unsealed.contains("Grete"))
        // A reader whose keyring lost the key (erasure) reads the placeholder.
        var read = try WireCodec.decode(WireCodec.encode(message.sealed(SealingContext(owner: visitor.id, keys: [visitor.id: Self.key]))))
        read.open(with: [:])
        guard case .messagePosted(let opened) = read.event else { Issue.record("not a message"); return }
        #expect(opened.text == SealedText.unreadable)
        #expect(opened.sender.displayName == SealedText.unreadable)
    }

    /// An archive answer holds chats of many visitors: each is sealed with its own key.
    @Test func archiveAnswersSealEachChatForItsVisitor() throws {
        let other = Participant(role: .visitor, id: "v-other", displayName: "Otto Other")
        func chat(_ id: String, _ visitor: Participant, _ text: String) -> ArchivedChat {
            ArchivedChat(chatId: id, departmentId: "support", visitor: visitor, contactEmail: nil, agents: [Samples.agent], queuedAt: Samples.time,
                         firstAssignedAt: nil, closedAt: nil, closedBy: visitor, closedReason: nil, messageCount: 1,
                         messages: [Transcript.Message(messageId: "m-\(id)", sender: visitor, text: text, sentAt: Samples.time)])
        }
        let answer = Envelope(producer: "archiver-1", event: .archiveSearchAnswered(ArchiveSearchAnswered(
            replyTo: "gateway-1", partition: 0, chats: [chat("c-1", Samples.visitor, "first words"), chat("c-2", other, "second words")], next: nil)))
        #expect(answer.sealingOwners(owner: nil) == [Samples.visitor.id, other.id])
        let keys = [Samples.visitor.id: Self.key, other.id: Self.otherKey]
        let bytes = WireCodec.encode(answer.sealed(SealingContext(owner: nil, keys: keys)))
        let text = String(decoding: bytes, as: UTF8.self)
        for secret in ["first", "second", "Grete", "Otto"] { #expect(!text.contains(secret)) }
        // Only the key of the visitor who is left opens their chat.
        var read = try WireCodec.decode(bytes)
        read.open(with: [other.id: Self.otherKey])
        guard case .archiveSearchAnswered(let opened) = read.event else { Issue.record("not an answer"); return }
        #expect(opened.chats[0].messages?.first?.text == SealedText.unreadable)
        #expect(opened.chats[1].messages?.first?.text == "second words")
        #expect(opened.chats[1].visitor.displayName == "Otto Other")
    }

    @Test func keysTravelAsBase64AndRejectOtherSizes() throws {
        let data = try JSONEncoder().encode(Self.key)
        #expect(try JSONDecoder().decode(VisitorKey.self, from: data) == Self.key)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(VisitorKey.self, from: Data(#""AAEC""#.utf8)) }
        #expect(VisitorKey(bytes: Data(count: 16)) == nil)
        #expect(VisitorKey.generate() != VisitorKey.generate())
    }
}
