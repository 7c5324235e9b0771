import ChatOps
import ChatRuntime
import RouterCore

await ServiceMain.run(
    service: "router",
    configuration: { () throws(ConfigurationError) in try RouterConfiguration() },
    common: { $0.common },
    services: { configuration, context in try RouterApplication.services(configuration: configuration, context: context) })
