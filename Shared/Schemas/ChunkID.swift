import Crypto

/// The deterministic id of a stored chunk (SPEC §6): the same chunk of the same document of the same
/// tenant, embedded by the same model, always gets the same id, so redelivery upserts one row and
/// re-embedding with a new model writes a row beside the old one.
public enum ChunkID {
    /// Lower-case hex SHA-256 over the length-prefixed fields, so no two field tuples collide.
    public static func make(tenant: String, docID: String, seq: Int, model: String) -> String {
        let fields = [tenant, docID, String(seq), model]
        let framed = fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "|")
        return SHA256.hash(data: Array(framed.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
