/// One row a block puts on the page: a pango layout line or a fixed-height decoration.
/// `gapBefore` is dropped when the row is the first on a page.
struct Row: Sendable, Equatable {
    var height: Double
    var gapBefore: Double
}

/// A block's rows, in order. The first `keepTogetherRows` (a message's heading and the
/// first line of its body) never end up on different pages.
struct BlockMetrics: Sendable, Equatable {
    var rows: [Row]
    var keepTogetherRows: Int
}

/// Where a row goes: the page (from 0) and the y of its top edge.
struct RowPlacement: Sendable, Equatable {
    var page: Int
    var top: Double
}

/// Decides page breaks, knowing only row heights, so every rule here is testable without
/// cairo. A block that fits on the current page stays there; one that does not but fits
/// on an empty page starts a new page; a block taller than a page is split row by row
/// (never clipped), after its first rows are kept together.
struct Paginator: Sendable {
    let top: Double
    let bottom: Double
    private(set) var page = 0
    private(set) var cursor: Double
    private var pageIsEmpty = true

    /// Rounding in pango units (1/1024 pt) must not push a block that fits exactly onto
    /// the next page.
    private let tolerance = 0.01

    init(top: Double, bottom: Double) {
        self.top = top
        self.bottom = bottom
        self.cursor = top
    }

    var pageCount: Int { page + 1 }

    mutating func place(_ block: BlockMetrics) -> [RowPlacement] {
        guard !block.rows.isEmpty else { return [] }
        if !pageIsEmpty, !fits(block.rows[...]) {
            let fitsEmptyPage = height(block.rows[...], atPageTop: true) <= bottom - top + tolerance
            let head = block.rows.prefix(max(1, block.keepTogetherRows))
            if fitsEmptyPage || !fits(head) { newPage() }
        }
        return block.rows.map { row in
            // A single row taller than a page cannot happen with the fonts in PageStyle;
            // should it, it goes on an empty page rather than looping forever.
            if !pageIsEmpty, !fits(CollectionOfOne(row)) { newPage() }
            let rowTop = cursor + (pageIsEmpty ? 0 : row.gapBefore)
            cursor = rowTop + row.height
            pageIsEmpty = false
            return RowPlacement(page: page, top: rowTop)
        }
    }

    private mutating func newPage() {
        page += 1
        cursor = top
        pageIsEmpty = true
    }

    private func fits<Rows: Collection<Row>>(_ rows: Rows) -> Bool {
        cursor + height(rows, atPageTop: pageIsEmpty) <= bottom + tolerance
    }

    private func height<Rows: Collection<Row>>(_ rows: Rows, atPageTop: Bool) -> Double {
        var total = 0.0
        for (index, row) in rows.enumerated() {
            total += row.height + (index == 0 && atPageTop ? 0 : row.gapBefore)
        }
        return total
    }
}
