/// Finds the emoji in a text, as UTF-8 byte ranges, so the renderer can set them in
/// Symbola explicitly.
///
/// Pango (1.44 and later) looks up emoji-presentation runs under the generic family
/// "emoji", and fontconfig's 60-generic.conf prefers colour fonts for it. On a machine
/// that also has fonts-noto-color-emoji (Chromium's browser tests install it), emoji would
/// become colour bitmaps, which `pdftotext` and PDF search cannot read. A run marked here
/// gets family Symbola with pango's fallback switched off, which pango honours for emoji
/// runs too, so the glyphs stay outline text whatever else is installed.
enum EmojiRuns {
    static func ranges(in text: String) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var offset = 0
        for character in text {
            let length = character.utf8.count
            defer { offset += length }
            guard isEmoji(character) else { continue }
            if let last = ranges.last, last.upperBound == offset {
                ranges[ranges.count - 1] = last.lowerBound..<(offset + length)
            } else {
                ranges.append(offset..<(offset + length))
            }
        }
        return ranges
    }

    /// A grapheme cluster pango's emoji segmentation shows as emoji: one with an
    /// emoji-presentation scalar (😀, flags), a variation selector 16 ("❤️"), a keycap
    /// ("1️⃣") or a skin-tone modifier. Text-presentation symbols without VS16 ("☺", "©")
    /// stay in the body font, as pango leaves them there too.
    static func isEmoji(_ character: Character) -> Bool {
        character.unicodeScalars.contains { scalar in
            scalar.properties.isEmojiPresentation
                || scalar.properties.isEmojiModifier
                || scalar.value == 0xFE0F  // VARIATION SELECTOR-16: emoji presentation
                || scalar.value == 0x20E3  // COMBINING ENCLOSING KEYCAP
        }
    }
}
