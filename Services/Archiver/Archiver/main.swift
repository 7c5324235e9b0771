import ArchiverCore
import ChatRuntime

await ServiceMain.run(
    service: "archiver",
    configuration: { () throws(ConfigurationError) in try ArchiverConfiguration() },
    logLevel: { $0.common.logLevel },
    services: { configuration, logger in try ArchiverApplication.services(configuration: configuration, logger: logger) })
