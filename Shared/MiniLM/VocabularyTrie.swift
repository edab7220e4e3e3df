/// A byte-wise prefix tree over WordPiece vocabulary entries, for greedy longest-match lookups.
///
/// Keys are compared as raw UTF-8 bytes — never with `String` equality, which treats canonically
/// equivalent strings as equal (a decomposed Hangul syllable would then match its precomposed vocabulary
/// entry, which the reference tokenizer does not do). A match always ends on a character boundary
/// because keys are valid UTF-8.
struct VocabularyTrie: Sendable {
    /// `(node << 8) | byte` → child node. Node 0 is the root.
    private var edges: [UInt32: UInt32] = [:]
    /// The token id stored at each node, or -1.
    private var tokenIDs: [Int32] = [-1]

    /// Adds `key` with `id`; a later insert of the same key wins.
    mutating func insert(_ key: some Sequence<UInt8>, id: Int32) {
        var node: UInt32 = 0
        for byte in key {
            let edge = node << 8 | UInt32(byte)
            if let child = edges[edge] {
                node = child
            } else {
                let child = UInt32(tokenIDs.count)
                tokenIDs.append(-1)
                edges[edge] = child
                node = child
            }
        }
        tokenIDs[Int(node)] = id
    }

    /// The longest key that is a prefix of `bytes[start...]`: its id and the index just past it.
    func longestMatch(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (id: Int32, end: Int)? {
        var node: UInt32 = 0
        var best: (id: Int32, end: Int)?
        var index = start
        while index < bytes.count, let child = edges[node << 8 | UInt32(bytes[index])] {
            node = child
            index += 1
            let id = tokenIDs[Int(node)]
            if id >= 0 { best = (id, index) }
        }
        return best
    }
}
