/// Partitions chosen by the system itself rather than by the Kafka client's partitioner,
/// so every service knows where a key's records are: presence records go to the partition
/// of their agent id, and "home" partitions (an agent's for the router's capacity, a
/// department's for presence's availability) are computed the same way everywhere.
public enum Partitioning {
    /// FNV-1a (32-bit) of the key's UTF-8 bytes, modulo `count`.
    public static func partition(forKey key: String, count: Int32) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int32(hash % UInt32(max(1, count)))
    }
}
