import ChatDevKit
import Foundation
import Testing

/// The services use the system's librdkafka and SQLite (Debian packages), not copies.
@Suite struct LinkageTests {
    @Test(arguments: ["gateway", "router", "presence", "archiver", "dev-broker"])
    func serviceLinksSystemLibraries(_ executable: String) throws {
        let binary = DevCluster.defaultBinDirectory().appendingPathComponent(executable).path
        let (_, text) = try runProcess("/usr/bin/ldd", [binary])
        let librdkafka = text.split(separator: "\n").first { $0.contains("librdkafka.so") }
        #expect(librdkafka.map { $0.contains("/lib/") && !$0.contains(".build") } == true, "\(executable) links the system librdkafka: \(text)")
        if executable != "dev-broker" {
            let sqlite = text.split(separator: "\n").first { $0.contains("libsqlite3.so") }
            #expect(sqlite.map { $0.contains("/lib/") && !$0.contains(".build") } == true, "\(executable) links the system SQLite: \(text)")
        }
    }
}
