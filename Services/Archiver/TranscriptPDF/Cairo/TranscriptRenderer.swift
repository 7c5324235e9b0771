import CPangoCairo

/// Draws one transcript onto one PDF surface. Every cairo and pango object it uses is
/// created and freed within a single render, on the calling thread.
///
/// Two passes: the first lays out each block, hands its row heights to the `Paginator`
/// and frees the layouts again; the second lays the block out once more and draws it at
/// the planned positions. That costs a second layout, but memory stays at one block's
/// worth however long the chat was, and the footer can say "Page n of m" because the page
/// count is known before the first page is drawn. Layout is deterministic for the same
/// text, fonts and width, so both passes break the lines identically.
final class TranscriptRenderer {
    private let style: PageStyle
    private let surface: PDFSurface
    private let cairo: CairoContext
    private let text: PangoTextContext
    private let fonts: Fonts

    init(output: PDFOutputStream, title: String, style: PageStyle = .a4) throws {
        self.style = style
        surface = try PDFSurface(width: style.width, height: style.height, output: output)
        surface.setMetadata(CAIRO_PDF_METADATA_TITLE, title)
        surface.setMetadata(CAIRO_PDF_METADATA_CREATOR, "livechat archiver")
        cairo = try CairoContext(surface: surface)
        text = PangoTextContext(cairo: cairo)
        fonts = Fonts(style)
    }

    func render(_ blocks: [BlockContent]) throws {
        var paginator = Paginator(top: style.contentTop, bottom: style.contentBottom)
        var placements: [[RowPlacement]] = []
        placements.reserveCapacity(blocks.count)
        for block in blocks {
            placements.append(paginator.place(build(block).metrics))
        }
        let pageCount = paginator.pageCount

        var page = 0
        for (block, rows) in zip(blocks, placements) {
            let built = build(block)
            for (row, placement) in zip(built.rows, rows) {
                while page < placement.page {
                    try finishPage(page, of: pageCount)
                    page += 1
                }
                draw(row, top: placement.top)
            }
        }
        try finishPage(page, of: pageCount)
        try surface.finish()
    }

    // MARK: Blocks

    /// A block's rows; each text row holds its layout, so a layout lives until the last
    /// row drawn from it is gone.
    private struct BuiltBlock {
        var rows: [BuiltRow] = []
        var keepTogetherRows = 1

        var metrics: BlockMetrics {
            BlockMetrics(rows: rows.map(\.metrics), keepTogetherRows: keepTogetherRows)
        }

        mutating func add(_ layout: TextLayout, left: Double, color: RGB, gapBefore: Double) {
            for box in layout.lines {
                rows.append(BuiltRow(
                    metrics: Row(height: box.height, gapBefore: box.index == 0 ? gapBefore : 0),
                    kind: .line(layout, box, left: left, color: color)
                ))
            }
        }
    }

    private struct BuiltRow {
        enum Kind {
            case line(TextLayout, LineBox, left: Double, color: RGB)
            case rule(left: Double, width: Double)
        }

        var metrics: Row
        var kind: Kind
    }

    private func build(_ block: BlockContent) -> BuiltBlock {
        var built = BuiltBlock()
        switch block {
        case .header(let title, let fields):
            built.add(layout(StyledText(title), fonts.title), left: style.contentLeft, color: .text, gapBefore: 0)
            var table = StyledText()
            for (index, field) in fields.enumerated() {
                table.append((index == 0 ? "" : "\n") + field.label + ":", .init(bold: true, color: .muted))
                table.append("\t" + field.value)
            }
            built.add(layout(table, fonts.field, tabStop: style.fieldTabStop), left: style.contentLeft, color: .text,
                      gapBefore: style.gapTitleToFields)
            built.rows.append(BuiltRow(
                metrics: Row(height: style.ruleHeight, gapBefore: 0),
                kind: .rule(left: style.contentLeft, width: style.contentWidth)
            ))
            built.keepTogetherRows = built.rows.count

        case .message(let message):
            var gap = style.gapBetweenMessages
            if let day = message.dayMarker {
                built.add(layout(StyledText(day), fonts.dayMarker, alignment: PANGO_ALIGN_CENTER),
                          left: style.contentLeft, color: .muted, gapBefore: gap)
                gap = 3
            }
            var heading = StyledText(message.time + "  ", .init(color: .muted))
            heading.append(message.author, .init(bold: true, color: Self.color(of: message.role)))
            built.add(layout(heading, fonts.heading), left: style.contentLeft, color: .text, gapBefore: gap)
            // The heading (and day marker) is kept with the first line of the body.
            built.keepTogetherRows = built.rows.count + 1
            if !message.text.isEmpty {
                let isSystem = message.role == .system
                let body = StyledText(message.text, .init(italic: isSystem))
                built.add(layout(body, fonts.body, indent: style.bodyIndent), left: style.contentLeft + style.bodyIndent,
                          color: isSystem ? .muted : .text, gapBefore: style.gapHeadingToBody)
            }
        }
        return built
    }

    private func layout(_ text: StyledText, _ font: FontDescription, indent: Double = 0,
                        alignment: PangoAlignment = PANGO_ALIGN_LEFT, tabStop: Double? = nil) -> TextLayout {
        TextLayout(context: self.text, text: text, font: font, width: style.contentWidth - indent,
                   emojiFamily: style.emojiFamily, alignment: alignment, tabStop: tabStop)
    }

    private static func color(of role: TranscriptDocument.Line.Role) -> RGB {
        switch role {
        case .agent: .agent
        case .visitor: .visitor
        case .system: .muted
        }
    }

    // MARK: Drawing

    private func draw(_ row: BuiltRow, top: Double) {
        switch row.kind {
        case .line(let layout, let box, let left, let color):
            setColor(color)
            layout.show(box, on: cairo, left: left, top: top)
        case .rule(let left, let width):
            setColor(.rule)
            cairo_set_line_width(cairo.pointer, 0.75)
            let y = top + row.metrics.height / 2
            cairo_move_to(cairo.pointer, left, y)
            cairo_line_to(cairo.pointer, left + width, y)
            cairo_stroke(cairo.pointer)
        }
    }

    private func finishPage(_ page: Int, of pageCount: Int) throws {
        let footer = layout(StyledText("Page \(page + 1) of \(pageCount)"), fonts.footer, alignment: PANGO_ALIGN_CENTER)
        setColor(.muted)
        for box in footer.lines {
            footer.show(box, on: cairo, left: style.contentLeft, top: style.footerTop)
        }
        cairo_show_page(cairo.pointer)
        try cairo.check("drawing page \(page + 1)")
    }

    private func setColor(_ color: RGB) {
        cairo_set_source_rgb(cairo.pointer, color.red, color.green, color.blue)
    }

    /// The font descriptions of one render, parsed once.
    private struct Fonts {
        let title, field, heading, body, dayMarker, footer: FontDescription

        init(_ style: PageStyle) {
            title = FontDescription(style.font(style.titleFont))
            field = FontDescription(style.font(style.fieldFont))
            heading = FontDescription(style.font(style.headingFont))
            body = FontDescription(style.font(style.bodyFont))
            dayMarker = FontDescription(style.font(style.dayMarkerFont))
            footer = FontDescription(style.font(style.footerFont))
        }
    }
}
