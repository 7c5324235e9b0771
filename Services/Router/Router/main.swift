import ChatRuntime
import RouterCore

await ServiceMain.run(
    service: "router",
    configuration: { () throws(ConfigurationError) in try RouterConfiguration() },
    logLevel: { $0.common.logLevel },
    services: { configuration, logger in try RouterApplication.services(configuration: configuration, logger: logger) })
