import Foundation

/// Identifiers are opaque strings on the wire; these helpers make new ones.
public enum WireID {
    /// A random, lower-case UUID string.
    public static func make() -> String { UUID().uuidString.lowercased() }

    /// Whether `value` can be used as an id: 1...128 characters of `[A-Za-z0-9._:-]`.
    public static func isValid(_ value: String) -> Bool {
        guard (1...128).contains(value.utf8.count) else { return false }
        return value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: ":"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
