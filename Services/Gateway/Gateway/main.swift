import ChatRuntime
import GatewayCore

await ServiceMain.run(
    service: "gateway",
    configuration: { () throws(ConfigurationError) in try GatewayConfiguration() },
    logLevel: { $0.common.logLevel },
    services: { configuration, logger in try await GatewayApplication.services(configuration: configuration, logger: logger) })
