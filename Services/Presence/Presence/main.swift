import ChatRuntime
import PresenceCore

await ServiceMain.run(
    service: "presence",
    configuration: { () throws(ConfigurationError) in try PresenceConfiguration() },
    logLevel: { $0.common.logLevel },
    services: { configuration, logger in try PresenceApplication.services(configuration: configuration, logger: logger) })
