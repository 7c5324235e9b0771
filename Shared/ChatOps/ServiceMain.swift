import ChatRuntime
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// What every service's parts share at run time.
public struct RuntimeContext: Sendable {
    public let logger: Logger
    public let health: ServiceHealth
    public let metrics: PrometheusCollectorRegistry
}

/// The body of every service's `@main`: read configuration (a bad value exits with status
/// 2 and names the variable), set up logging and metrics, build the services, and run them
/// until SIGTERM or SIGINT, shutting them down in reverse order within the configured time.
public enum ServiceMain {
    public static func run<Configuration: Sendable>(
        service: String,
        configuration makeConfiguration: () throws(ConfigurationError) -> Configuration,
        common: (Configuration) -> CommonConfiguration,
        services makeServices: (Configuration, RuntimeContext) async throws -> [any Service]
    ) async {
        let configuration: Configuration
        do {
            configuration = try makeConfiguration()
        } catch {
            FileHandle.standardError.write(Data("\(service): \(error)\n".utf8))
            exit(2)
        }
        let settings = common(configuration)
        let logger = Logger.service(service, level: settings.logLevel, format: settings.logFormat)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let context = RuntimeContext(logger: logger, health: ServiceHealth(), metrics: registry)
        do {
            let services = try await makeServices(configuration, context)
            var groupConfiguration = ServiceGroupConfiguration(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
            groupConfiguration.maximumGracefulShutdownDuration = .seconds(settings.shutdownTimeoutSeconds)
            groupConfiguration.maximumCancellationDuration = .seconds(5)
            logger.info("\(service) starting", metadata: ["instance": "\(settings.instanceID)"])
            try await ServiceGroup(configuration: groupConfiguration).run()
            logger.info("\(service) stopped")
        } catch {
            logger.critical("\(service) failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
