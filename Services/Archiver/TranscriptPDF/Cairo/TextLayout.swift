import CPangoCairo

/// Where one line of a laid-out paragraph sits, in points relative to the layout's
/// top-left corner. Metrics only: drawing goes through `TextLayout.show`, so no pointer
/// into a layout ever outlives the layout.
struct LineBox: Equatable {
    let index: Int
    let x: Double
    let height: Double
    /// From the line's top edge to its baseline, where cairo places the line.
    let baseline: Double
}

/// A PangoLayout owned by Swift, unref'd in deinit. A layout lives only as long as the
/// block that needs it (see `TranscriptRenderer`), so memory stays flat however long the
/// transcript is. Its line pointers stay private: an optimised build may release an
/// object right after its last use, so a pointer handed out could outlive the layout.
final class TextLayout {
    private let pointer: OpaquePointer
    /// Lines of the layout, which owns them; they live as long as `pointer`.
    private var linePointers: [UnsafeMutablePointer<PangoLayoutLine>] = []
    private(set) var lines: [LineBox] = []

    init(context: PangoTextContext, text: StyledText, font: FontDescription, width: Double,
         emojiFamily: String, alignment: PangoAlignment = PANGO_ALIGN_LEFT, tabStop: Double? = nil) {
        pointer = pango_layout_new(context.pointer)
        pango_layout_set_font_description(pointer, font.pointer)
        pango_layout_set_width(pointer, Int32(width * Double(PANGO_SCALE)))
        // WORD_CHAR: break between words, and inside a word only when it is wider than
        // the line, so a 20,000-character string without spaces still wraps.
        pango_layout_set_wrap(pointer, PANGO_WRAP_WORD_CHAR)
        pango_layout_set_alignment(pointer, alignment)
        if let tabStop {
            let tabs = pango_tab_array_new(1, 0)
            pango_tab_array_set_tab(tabs, 0, PANGO_TAB_LEFT, Int32(tabStop * Double(PANGO_SCALE)))
            pango_layout_set_tabs(pointer, tabs)  // copies the array
            pango_tab_array_free(tabs)
        }
        // Plain text, never markup: "<b>" and "&" from a visitor are shown as typed.
        // The explicit byte length keeps pango from scanning for a terminator.
        var plain = text.text
        plain.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                pango_layout_set_text(pointer, chars.baseAddress, Int32(clamping: chars.count))
            }
        }
        let attributes = Self.attributes(for: text, emojiFamily: emojiFamily)
        pango_layout_set_attributes(pointer, attributes)  // the layout takes its own reference
        pango_attr_list_unref(attributes)
        measure()
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(pointer)) }

    /// Draws one of this layout's lines with the top-left of the layout at (left, top).
    func show(_ box: LineBox, on cairo: CairoContext, left: Double, top: Double) {
        cairo_move_to(cairo.pointer, left + box.x, top + box.baseline)
        pango_cairo_show_layout_line(cairo.pointer, linePointers[box.index])
    }

    /// Reads every line's position once with pango's layout iterator; the layout is not
    /// changed afterwards, so the lines and their extents stay valid.
    private func measure() {
        let iterator = pango_layout_get_iter(pointer)
        defer { pango_layout_iter_free(iterator) }
        repeat {
            var logical = PangoRectangle()
            pango_layout_iter_get_line_extents(iterator, nil, &logical)
            let baseline = pango_layout_iter_get_baseline(iterator)
            linePointers.append(pango_layout_iter_get_line_readonly(iterator))
            lines.append(LineBox(
                index: lines.count,
                x: points(logical.x),
                height: points(logical.height),
                baseline: points(baseline - logical.y)
            ))
        } while pango_layout_iter_next_line(iterator) != 0
    }

    /// The list is handed to the layout, which references it; each attribute inserted is
    /// owned by the list from then on, so none is freed here.
    private static func attributes(for text: StyledText, emojiFamily: String) -> OpaquePointer {
        let list: OpaquePointer = pango_attr_list_new()
        // Since 1.44 pango may draw a hyphen where it breaks inside a word (the attribute
        // defaults to on). 1.50.12 drew none for our char-wrapped words, but a transcript
        // must show exactly what was sent on any version, so it is switched off. New
        // attributes cover the whole text until their range is set.
        pango_attr_list_insert(list, pango_attr_insert_hyphens_new(0))
        for range in EmojiRuns.ranges(in: text.text) {
            for attribute in [pango_attr_family_new(emojiFamily), pango_attr_fallback_new(0)] {
                guard let attribute else { continue }
                attribute.pointee.start_index = UInt32(range.lowerBound)
                attribute.pointee.end_index = UInt32(range.upperBound)
                pango_attr_list_insert(list, attribute)
            }
        }
        for span in text.spans {
            var attributes: [UnsafeMutablePointer<PangoAttribute>] = []
            if span.style.bold { attributes.append(pango_attr_weight_new(PANGO_WEIGHT_BOLD)) }
            if span.style.italic { attributes.append(pango_attr_style_new(PANGO_STYLE_ITALIC)) }
            if let color = span.style.color {
                attributes.append(pango_attr_foreground_new(channel(color.red), channel(color.green), channel(color.blue)))
            }
            for attribute in attributes {
                attribute.pointee.start_index = UInt32(span.start)
                attribute.pointee.end_index = UInt32(span.end)
                pango_attr_list_insert(list, attribute)
            }
        }
        return list
    }

    private static func channel(_ value: Double) -> UInt16 { UInt16((min(max(value, 0), 1) * 65535).rounded()) }
}

func points(_ pangoUnits: Int32) -> Double { Double(pangoUnits) / Double(PANGO_SCALE) }
