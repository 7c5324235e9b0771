import ChatOps
import ChatRuntime
import PresenceCore

await ServiceMain.run(
    service: "presence",
    configuration: { () throws(ConfigurationError) in try PresenceConfiguration() },
    common: { $0.common },
    services: { configuration, context in try PresenceApplication.services(configuration: configuration, context: context) })
