import CPangoCairo

/// Why a transcript could not be rendered, with a stable `code` and a human message.
public struct TranscriptPDFError: Error, CustomStringConvertible {
    /// cairo reported a failure (out of memory, an invalid string, a failed write, ...).
    public static let cairoCode = "CAIRO_ERROR"
    /// The sink or the output file refused a chunk of the PDF; `underlying` says why.
    public static let outputCode = "OUTPUT_FAILED"

    public let code: String
    public let message: String
    /// The error the sink or the file system threw, when there was one.
    public let underlying: (any Error)?

    public init(code: String, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    init(cairo status: cairo_status_t, context: String) {
        let reason = String(cString: cairo_status_to_string(status))
        self.init(code: Self.cairoCode, message: "\(context): \(reason) (cairo status \(status.rawValue))")
    }

    static func output(_ error: any Error, context: String) -> TranscriptPDFError {
        if let error = error as? TranscriptPDFError { return error }
        return TranscriptPDFError(code: outputCode, message: "\(context): \(error)", underlying: error)
    }

    public var description: String { "\(code): \(message)" }
}
