import Foundation

/// The JSON of `POST /v1/embeddings`, as far as the provider reads and writes it.
enum OpenAIEmbeddingsWire {
    struct Request: Encodable {
        var model: String
        var input: [String]
        var dimensions: Int?
        var encodingFormat: String?

        enum CodingKeys: String, CodingKey {
            case model, input, dimensions
            case encodingFormat = "encoding_format"
        }
    }

    struct Response: Decodable {
        var data: [Item]
    }

    struct Item: Decodable {
        /// Position of the input this vector belongs to. Every OpenAI-compatible server sends it; when
        /// none do, the array order is taken.
        var index: Int?
        var embedding: Vector
    }

    /// `[0.1, …]`, or a base64 string of little-endian 32-bit floats.
    enum Vector: Decodable {
        case floats([Float])
        case base64(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .base64(text)
            } else {
                self = .floats(try container.decode([Float].self))
            }
        }

        /// The numbers, or `nil` for base64 that does not decode to whole floats.
        var values: [Float]? {
            switch self {
            case .floats(let values):
                return values
            case .base64(let text):
                guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
                return data.withUnsafeBytes { raw in
                    (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                }
            }
        }
    }
}
