/// Every Kafka topic of the system, with its key and partition count. Services name
/// topics only through this catalog; the dev broker creates exactly these.
public enum Topic: String, CaseIterable, Sendable {
    /// Requests to the router (start, take, close). Key: department id, so one router
    /// instance owns a department's queue and orders its requests.
    case chatCommands = "chat.commands"
    /// The life of each conversation: router decisions and every message. Key: chat id,
    /// so a chat's lifecycle and messages share one ordered log.
    case chatConversations = "chat.conversations"
    /// What the gateway learns about agent connections and toggles. Key: agent id.
    case presenceCommands = "presence.commands"
    /// Latest presence of each agent (compacted in production). Key: agent id.
    case presenceAgents = "presence.agents"
    /// Whether each department is open (compacted in production). Key: department id.
    case presenceDepartments = "presence.departments"
    /// Questions to the archiver (transcripts). Key: chat id, with as many partitions as
    /// `chat.conversations`: a chat's questions land on the same partition number as its
    /// conversation, and the range assignor gives both to the same archiver instance.
    case archiveQueries = "archive.queries"
    /// Answers addressed to one gateway instance. Key: gateway instance id.
    case gatewayReplies = "gateway.replies"
    /// The router's state per `chat.commands` partition (`RouterPartitionSnapshot`), with as
    /// many partitions as `chat.commands`: snapshot of partition n lives on partition n.
    /// Key: `partition-<n>`. Compacted; the router's own, read only by router instances.
    case routerChangelog = "router.changelog"
    /// A telephony system's reports of agents' phone calls (`agent.call_started`,
    /// `agent.call_ended`, key: agent id) and the router's answers to call routing
    /// requests (`call.routed`, key: call id). Every router instance reads all of it.
    case telephonyCalls = "telephony.calls"
    /// Ephemeral signals of a chat (typing). Key: chat id. Gateways read every partition
    /// and push; nothing is stored, so a short retention is enough.
    case chatSignals = "chat.signals"
    /// Every staff account as it is now (`account.updated`): roles, departments, status,
    /// password hash and revoked sessions. Key: agent id, on the agent's partition (as many
    /// partitions as `presence.commands`). Compacted; written by presence (the directory's
    /// owner), read by gateways (sign-in, sessions) and presence instances.
    case accountsDirectory = "accounts.directory"
    /// Each department's admin settings as they are now (`department.settings_updated`:
    /// retention). Key: department id. Compacted; written by gateways (admin requests),
    /// read by gateways and archivers (all partitions).
    case departmentSettings = "departments.settings"
    /// One `visitor.registered` per visitor token (E2/A9), with the visitor's data key (A6).
    /// Key: visitor id. One partition, so the offsets number contacts ("Guest-N",
    /// N = offset + 1) in one sequence. Compacted; written by gateways, read by gateways and
    /// archivers (their keyrings); erasure writes the visitor's tombstone.
    case visitorContacts = "visitors.contacts"

    public var name: String { rawValue }

    /// Partition counts used by the dev broker and the compose topic setup.
    public var partitions: Int {
        switch self {
        case .chatCommands, .chatConversations, .archiveQueries, .routerChangelog, .chatSignals: 12
        case .presenceCommands, .presenceAgents, .telephonyCalls, .accountsDirectory: 6
        case .presenceDepartments, .gatewayReplies, .departmentSettings: 3
        case .visitorContacts: 1
        }
    }

    /// `delete` or `compact`, as created on a real Kafka cluster.
    public var cleanupPolicy: String {
        switch self {
        case .presenceAgents, .presenceDepartments, .routerChangelog, .accountsDirectory, .departmentSettings, .visitorContacts: "compact"
        default: "delete"
        }
    }
}
