import ChatOps
import ChatRuntime
import GatewayCore

await ServiceMain.run(
    service: "gateway",
    configuration: { () throws(ConfigurationError) in try GatewayConfiguration() },
    common: { $0.common },
    services: { configuration, context in try await GatewayApplication.services(configuration: configuration, context: context) })
