import ArchiverCore
import ChatOps
import ChatRuntime

await ServiceMain.run(
    service: "archiver",
    configuration: { () throws(ConfigurationError) in try ArchiverConfiguration() },
    common: { $0.common },
    services: { configuration, context in try ArchiverApplication.services(configuration: configuration, context: context) })
