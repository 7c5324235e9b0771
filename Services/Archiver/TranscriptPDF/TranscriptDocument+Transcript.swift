import ChatWire
import Foundation

extension TranscriptDocument {
    /// The layout of an archived transcript (the gateway's download and the archiver's
    /// e-mail both use it).
    public init(_ transcript: Transcript, departmentName: String) {
        self.init(
            title: "Chat transcript",
            departmentName: departmentName,
            agentNames: transcript.agents.map(\.displayName),
            visitorName: transcript.visitor.displayName,
            startedAt: transcript.queuedAt,
            endedAt: transcript.closedAt,
            lines: transcript.messages.map { message in
                let role: Line.Role = switch message.sender.role {
                case .visitor: .visitor
                case .agent: .agent
                case .system: .system
                }
                return Line(at: message.sentAt, author: message.sender.displayName, role: role, text: message.text)
            })
    }
}
