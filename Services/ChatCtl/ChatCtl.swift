import ArgumentParser
import ChatKafka
import ChatRuntime
import ChatWire
import Foundation
import HummingbirdBcrypt
import Logging

/// Operator commands. Talks to the system the way services do: through Kafka
/// (`CHAT_KAFKA_BOOTSTRAP`, or `--bootstrap`).
@main
struct ChatCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatctl",
        abstract: "Operate a live chat system: create the first admin, hash passwords, export the archive.",
        subcommands: [CreateAdmin.self, HashPassword.self, Export.self])
}

/// Reads a password from a file or standard input (first line), never from arguments
/// (they show in `ps` and shell history).
struct PasswordSource: ParsableArguments {
    @Option(help: "Read the password from this file (first line). Without it: from standard input.")
    var passwordFile: String?

    func read() throws -> String {
        let text: String
        if let passwordFile {
            guard let contents = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ValidationError("cannot read the password file '\(passwordFile)'")
            }
            text = contents
        } else {
            guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
            text = line
        }
        let password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        guard (8...128).contains(password.count) else { throw ValidationError("a password needs 8 to 128 characters") }
        return password
    }
}

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the bcrypt hash of a password (for accounts provisioned in PRESENCE_AGENTS).")

    @OptionGroup var password: PasswordSource

    @Option(help: "bcrypt cost, 4 to 16.")
    var cost: Int = 11

    func validate() throws {
        guard (4...16).contains(cost) else { throw ValidationError("--cost must be 4 to 16") }
    }

    func run() throws {
        print(Bcrypt.hash(try password.read(), cost: UInt8(cost)))
    }
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an approved account with the admin, supervisor and agent roles.",
        discussion: """
        Presence creates it unless the login name is taken; this command waits until the \
        account shows in accounts.directory (exit 0), or says why not (exit 1).
        """)

    @Option(help: "Login name: 2-64 of a-z, 0-9, '.', '_', '-'.")
    var login: String

    @Option(help: "Name shown to colleagues and visitors.")
    var name: String

    @Option(help: "Departments to work in, comma-separated (they must exist in PRESENCE_DEPARTMENTS).")
    var departments: String = ""

    @Option(help: "Kafka bootstrap servers (default: CHAT_KAFKA_BOOTSTRAP).")
    var bootstrap: String?

    @Option(help: "Seconds to wait for presence.")
    var timeout: Int = 30

    @OptionGroup var password: PasswordSource

    func validate() throws {
        guard LoginName.isValid(login) else { throw ValidationError("'\(login)' is not a login name (2-64 of a-z, 0-9, '.', '_', '-')") }
        guard (1...80).contains(name.trimmingCharacters(in: .whitespaces).count) else { throw ValidationError("--name needs 1 to 80 characters") }
        for id in departmentIds where !WireID.isValid(id) { throw ValidationError("'\(id)' is not a department id") }
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1 to 600 seconds") }
    }

    var departmentIds: [String] { departments.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        if let bootstrap { environment["CHAT_KAFKA_BOOTSTRAP"] = bootstrap }
        environment["CHAT_INSTANCE_ID"] = environment["CHAT_INSTANCE_ID"] ?? "chatctl-\(ProcessInfo.processInfo.processIdentifier)"
        let common: CommonConfiguration
        do {
            common = try CommonConfiguration(service: "chatctl", environment: EnvironmentReader(environment))
        } catch {
            throw ValidationError("\(error)")
        }
        let hash = Bcrypt.hash(try password.read(), cost: 11)
        var logger = Logger(label: "chatctl")
        logger.logLevel = .warning
        let directory = try AccountDirectoryReader(common: common, logger: logger)
        defer { Task { await directory.close() } }
        let deadline = ContinuousClock.now + .seconds(timeout)
        try await directory.readToEnd(until: deadline)
        if let existing = directory.latest(login), existing.status != .rejected {
            throw Failure("the login name '\(login)' is taken (\(existing.status.rawValue)); nothing changed")
        }
        let registrationId = WireID.make()
        let producer = try KafkaProducer(configuration: common.producerConfiguration(), logger: logger)
        let partitions = try await producer.partitionCount(topic: Topic.presenceCommands.name)
        let registration = AccountRegistrationRequested(
            agentId: login, displayName: name.trimmingCharacters(in: .whitespaces), passwordHash: hash, registrationId: registrationId,
            approved: true, roles: StaffRole.allCases, departmentIds: departmentIds)
        _ = try await producer.send(WireRecord(topic: .presenceCommands, key: login,
                                               envelope: Envelope(producer: common.instanceID, event: .accountRegistrationRequested(registration)),
                                               partition: Partitioning.partition(forKey: login, count: partitions)))
        await producer.shutdown()
        while ContinuousClock.now < deadline {
            try await directory.poll()
            if let account = directory.latest(login) {
                if account.registrationId == registrationId {
                    print("created admin '\(login)' (\(account.roles.map(\.rawValue).joined(separator: ", ")); departments: \(account.departmentIds.joined(separator: ", ")))")
                    return
                }
                if account.status != .rejected {
                    throw Failure("the login name '\(login)' was taken meanwhile; nothing changed")
                }
            }
        }
        FileHandle.standardError.write(Data("chatctl: presence did not create the account within \(timeout) s (is it running? see its log: an unknown department is refused)\n".utf8))
        throw ExitCode(1)
    }
}

/// A command that could not do its work: printed as "Error: ..." with exit status 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Follows `accounts.directory` from its beginning, keeping each account's newest record.
final class AccountDirectoryReader: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let ends: [Int32: Int64]
    /// Only touched by the command's single task.
    private var accounts: [String: AccountUpdated] = [:]
    private var positions: [Int32: Int64] = [:]

    init(common: CommonConfiguration, logger: Logger) throws {
        let configuration = common.consumerConfiguration(groupID: "\(common.instanceID).reader")
        ends = try KafkaLatestRecords.endOffsets(configuration: configuration, topic: Topic.accountsDirectory.name)
        consumer = try KafkaConsumer(configuration: configuration,
                                     subscription: .allPartitions(topics: [Topic.accountsDirectory.name]) { partitions in
                                         Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaStartOffset.beginning) })
                                     },
                                     logger: logger)
    }

    func latest(_ agentId: String) -> AccountUpdated? { accounts[agentId] }

    /// Reads until every partition reached the end it had when the reader was made.
    func readToEnd(until deadline: ContinuousClock.Instant) async throws {
        while ends.contains(where: { partition, end in end > 0 && (positions[partition] ?? 0) < end }) {
            guard ContinuousClock.now < deadline else { throw Failure("could not read accounts.directory in time") }
            try await poll()
        }
    }

    func poll() async throws {
        for record in try await consumer.poll(timeout: .milliseconds(200)) {
            positions[record.partition] = record.offset + 1
            // Records of other types or newer schemas are not ours to judge here.
            guard let envelope = try? WireCodec.decode(record.value), case .accountUpdated(let account) = envelope.event else { continue }
            accounts[account.agentId] = account
        }
    }

    func close() async { await consumer.close() }
}
