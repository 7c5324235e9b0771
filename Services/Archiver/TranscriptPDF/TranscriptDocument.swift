import Foundation

/// A chat transcript as the archiver hands it to the PDF renderer: who took part, when it
/// ran, and every line in the order it happened.
public struct TranscriptDocument: Sendable, Equatable {
    /// One message or system notice of the chat.
    public struct Line: Sendable, Equatable {
        /// Who wrote the line; it decides the colour of the heading and the body style.
        public enum Role: String, Sendable, Equatable, CaseIterable {
            case visitor, agent, system
        }

        public var at: Date
        public var author: String
        public var role: Role
        /// Plain text exactly as sent; it is never interpreted as markup.
        public var text: String

        public init(at: Date, author: String, role: Role, text: String) {
            self.at = at
            self.author = author
            self.role = role
            self.text = text
        }
    }

    public var title: String
    public var departmentName: String
    public var agentNames: [String]
    public var visitorName: String
    public var startedAt: Date
    /// `nil` while the chat is still open.
    public var endedAt: Date?
    public var lines: [Line]

    public init(
        title: String,
        departmentName: String,
        agentNames: [String],
        visitorName: String,
        startedAt: Date,
        endedAt: Date?,
        lines: [Line]
    ) {
        self.title = title
        self.departmentName = departmentName
        self.agentNames = agentNames
        self.visitorName = visitorName
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.lines = lines
    }
}
