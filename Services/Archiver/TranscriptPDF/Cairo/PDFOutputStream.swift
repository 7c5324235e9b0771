import CPangoCairo

/// Receives the bytes cairo writes for one PDF.
///
/// cairo gets this object as an unretained opaque pointer; `PDFSurface` holds the Swift
/// reference, so the stream outlives every write cairo can make. cairo calls the write
/// function synchronously from drawing calls and from `cairo_surface_finish`, on the
/// thread that renders, so no locking is needed and the class is not Sendable. After the
/// first failed write cairo puts the surface into an error state and writes no more; the
/// sink's error is kept to be thrown instead of cairo's generic WRITE_ERROR.
final class PDFOutputStream {
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private(set) var failure: (any Error)?

    init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.sink = sink
    }

    /// The `cairo_write_func_t`; `closure` is the opaque pointer from `PDFSurface`.
    static func write(_ closure: UnsafeMutableRawPointer?, _ data: UnsafePointer<UInt8>?, _ length: UInt32) -> cairo_status_t {
        guard let closure else { return CAIRO_STATUS_WRITE_ERROR }
        let stream = Unmanaged<PDFOutputStream>.fromOpaque(closure).takeUnretainedValue()
        guard stream.failure == nil else { return CAIRO_STATUS_WRITE_ERROR }
        guard let data, length > 0 else { return CAIRO_STATUS_SUCCESS }
        do {
            try stream.sink(UnsafeRawBufferPointer(start: data, count: Int(length)))
            return CAIRO_STATUS_SUCCESS
        } catch {
            stream.failure = error
            return CAIRO_STATUS_WRITE_ERROR
        }
    }
}
