import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The body of every service's `@main`: read configuration (a bad value exits with status
/// 2 and names the variable), build the services, and run them until SIGTERM or SIGINT,
/// shutting them down in reverse order.
public enum ServiceMain {
    public static func run<Configuration: Sendable>(
        service: String,
        configuration makeConfiguration: () throws(ConfigurationError) -> Configuration,
        logLevel: (Configuration) -> Logger.Level,
        services makeServices: (Configuration, Logger) async throws -> [any Service]
    ) async {
        let configuration: Configuration
        do {
            configuration = try makeConfiguration()
        } catch {
            FileHandle.standardError.write(Data("\(service): \(error)\n".utf8))
            exit(2)
        }
        let logger = Logger.service(service, level: logLevel(configuration))
        do {
            let services = try await makeServices(configuration, logger)
            let group = ServiceGroup(configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            logger.info("\(service) starting")
            try await group.run()
            logger.info("\(service) stopped")
        } catch {
            logger.critical("\(service) failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
