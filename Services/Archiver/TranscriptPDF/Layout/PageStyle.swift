/// Page size, margins, fonts and colours of a transcript, in PDF points (1/72 inch).
/// Pure values: the renderer turns them into cairo and pango objects.
struct PageStyle: Sendable {
    var width = 595.2756  // A4, 210 mm
    var height = 841.8898  // A4, 297 mm
    var marginLeft = 56.6929  // 20 mm
    var marginRight = 56.6929
    var marginTop = 56.6929
    var marginBottom = 62.3622  // 22 mm: the footer sits inside it
    /// Distance of the footer's top from the bottom edge of the page.
    var footerFromBottom = 34.0

    /// DejaVu Sans covers Latin, Greek and Cyrillic; Symbola is named second so symbols
    /// DejaVu lacks come from it before fontconfig's own fallback picks another font.
    var family = "DejaVu Sans,Symbola"
    /// Emoji are set in Symbola explicitly (see EmojiRuns): outline glyphs stay text.
    var emojiFamily = "Symbola"
    var titleFont = "Bold 16"
    var fieldFont = "10"
    var headingFont = "9"
    var bodyFont = "10"
    var dayMarkerFont = "8"
    var footerFont = "8"

    /// Where field values start in the header block, from the left margin.
    var fieldTabStop = 80.0
    /// Message bodies are indented below their "HH:mm  Author" heading.
    var bodyIndent = 14.0
    var gapBetweenMessages = 7.0
    var gapHeadingToBody = 1.0
    var gapTitleToFields = 8.0
    var ruleHeight = 14.0

    var contentLeft: Double { marginLeft }
    var contentWidth: Double { width - marginLeft - marginRight }
    var contentTop: Double { marginTop }
    var contentBottom: Double { height - marginBottom }
    var footerTop: Double { height - footerFromBottom }

    func font(_ sizeAndStyle: String) -> String { "\(family) \(sizeAndStyle)" }

    static let a4 = PageStyle()
}

/// An sRGB colour with components from 0 to 1.
struct RGB: Sendable, Equatable {
    var red: Double
    var green: Double
    var blue: Double

    static let text = RGB(red: 0.10, green: 0.10, blue: 0.10)
    static let muted = RGB(red: 0.42, green: 0.42, blue: 0.42)
    static let agent = RGB(red: 0.07, green: 0.30, blue: 0.58)
    static let visitor = RGB(red: 0.55, green: 0.22, blue: 0.05)
    static let rule = RGB(red: 0.75, green: 0.75, blue: 0.75)
}
