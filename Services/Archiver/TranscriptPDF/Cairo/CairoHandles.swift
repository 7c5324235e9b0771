import CPangoCairo

// Each wrapper owns exactly one cairo or pango object and frees it in deinit, so an error
// thrown halfway through a render still releases everything. None is Sendable: cairo and
// pango objects may be used by one thread at a time, and a render never leaves the thread
// that called it.

/// The PDF surface of one render, writing into a `PDFOutputStream`.
final class PDFSurface {
    let pointer: OpaquePointer
    /// Kept here because cairo holds only an unretained pointer to it (see PDFOutputStream).
    let output: PDFOutputStream

    init(width: Double, height: Double, output: PDFOutputStream) throws {
        let surface: OpaquePointer = cairo_pdf_surface_create_for_stream(
            { closure, data, length in PDFOutputStream.write(closure, data, length) },
            Unmanaged.passUnretained(output).toOpaque(),
            width, height
        )
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(surface)  // cairo returns an error surface, which is freed like any other
            throw TranscriptPDFError(cairo: status, context: "creating the PDF surface")
        }
        self.pointer = surface
        self.output = output
    }

    func setMetadata(_ key: cairo_pdf_metadata_t, _ value: String) {
        cairo_pdf_surface_set_metadata(pointer, key, value)
    }

    /// Writes the rest of the PDF (the last page, fonts, cross references). Done here
    /// rather than left to cairo_surface_destroy, which would finish too but lose the status.
    func finish() throws {
        cairo_surface_finish(pointer)
        if let failure = output.failure { throw TranscriptPDFError.output(failure, context: "writing the PDF") }
        let status = cairo_surface_status(pointer)
        guard status == CAIRO_STATUS_SUCCESS else { throw TranscriptPDFError(cairo: status, context: "finishing the PDF") }
    }

    deinit { cairo_surface_destroy(pointer) }
}

/// The cairo drawing context of one render. It holds a cairo reference to the surface and
/// a Swift one to its wrapper, so the surface is destroyed only after this context.
final class CairoContext {
    let pointer: OpaquePointer
    let surface: PDFSurface

    init(surface: PDFSurface) throws {
        let context: OpaquePointer = cairo_create(surface.pointer)
        let status = cairo_status(context)
        guard status == CAIRO_STATUS_SUCCESS else {
            cairo_destroy(context)
            throw TranscriptPDFError(cairo: status, context: "creating the cairo context")
        }
        self.pointer = context
        self.surface = surface
    }

    /// cairo errors are sticky: every later call becomes a no-op, so checking once per
    /// page reports the first failure with its own status.
    func check(_ context: @autoclosure () -> String) throws {
        if let failure = surface.output.failure { throw TranscriptPDFError.output(failure, context: "writing the PDF") }
        let status = cairo_status(pointer)
        guard status == CAIRO_STATUS_SUCCESS else { throw TranscriptPDFError(cairo: status, context: context()) }
    }

    deinit { cairo_destroy(pointer) }
}

/// The pango context of one render, made for the cairo context so that measuring and
/// drawing use the same font options. Layouts take their own GObject reference to it,
/// so releasing this wrapper first is harmless.
final class PangoTextContext {
    let pointer: OpaquePointer

    init(cairo: CairoContext) {
        // The font map behind it is pango's per-thread default: owned by pango, reused by
        // every render on this thread (it caches loaded fonts), and never unref'd here.
        pointer = pango_cairo_create_context(cairo.pointer)
        // PDF user space is in points; at 72 dpi a "10" in a font description is 10 pt.
        pango_cairo_context_set_resolution(pointer, 72)
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(pointer)) }
}

/// A parsed font description. `pango_layout_set_font_description` copies it, so one per
/// render is enough and freeing it does not affect layouts.
final class FontDescription {
    let pointer: OpaquePointer

    init(_ description: String) {
        pointer = pango_font_description_from_string(description)
    }

    deinit { pango_font_description_free(pointer) }
}
