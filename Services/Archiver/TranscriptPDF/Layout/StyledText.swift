/// Plain text plus styled spans. The text goes to pango with `pango_layout_set_text` and
/// the spans become a `PangoAttrList`, so nothing a visitor typed is ever parsed as
/// markup: "<b>" and "&" are shown as they were sent.
struct StyledText: Sendable, Equatable {
    struct Style: Sendable, Equatable {
        var bold = false
        var italic = false
        var color: RGB?
    }

    /// A styled range in UTF-8 bytes, the unit pango attributes use.
    struct Span: Sendable, Equatable {
        var start: Int
        var end: Int
        var style: Style
    }

    private(set) var text = ""
    private(set) var spans: [Span] = []

    init() {}

    init(_ text: String, _ style: Style = Style()) {
        append(text, style)
    }

    mutating func append(_ piece: String, _ style: Style = Style()) {
        let start = text.utf8.count
        text += piece
        let end = text.utf8.count
        if style != Style(), end > start { spans.append(Span(start: start, end: end, style: style)) }
    }
}
