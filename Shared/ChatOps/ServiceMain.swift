import ChatRuntime
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
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
            let watchdog = StopWatchdog(bound: .seconds(settings.shutdownTimeoutSeconds + 5), logger: logger)
            defer { withExtendedLifetime(watchdog) {} }
            try await ServiceGroup(configuration: groupConfiguration).run()
            logger.info("\(service) stopped")
        } catch {
            logger.critical("\(service) failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}

/// Keeps the stop bound even when a part is stuck in a blocking call nothing can cancel (a
/// librdkafka close with the broker gone): once SIGTERM or SIGINT arrives, the process
/// exits after the graceful time plus the cancellation time, whatever is still running.
final class StopWatchdog {
    private final class Once: Sendable {
        let fired = Atomic<Bool>(false)
    }

    private let sources: [any DispatchSourceSignal]

    init(bound: Duration, logger: Logger) {
        let seconds = Double(bound.components.seconds)
        let armed = Once()
        sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                guard armed.fired.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                    logger.critical("stopping took longer than \(Int(seconds)) s; exiting now")
                    exit(1)
                }
            }
            source.resume()
            return source
        }
    }
}
