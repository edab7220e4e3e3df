import Foundation

/// The JSON of `POST /v1/chat/completions` with `stream: true`, as far as the provider writes and reads it.
enum OpenAIChatWire {
    struct Request: Encodable {
        struct Message: Encodable {
            var role: String
            var content: String
        }

        struct StreamOptions: Encodable {
            var includeUsage: Bool

            enum CodingKeys: String, CodingKey {
                case includeUsage = "include_usage"
            }
        }

        var model: String
        var messages: [Message]
        var stream = true
        var streamOptions: StreamOptions?
        var maxTokens: Int?
        var temperature: Double?

        enum CodingKeys: String, CodingKey {
            case model, messages, stream, temperature
            case streamOptions = "stream_options"
            case maxTokens = "max_tokens"
        }
    }

    /// One `data:` event of the stream (`chat.completion.chunk`). Every field is optional so that what is
    /// missing is judged by ``OpenAIChatStream``, not by the decoder.
    struct Chunk: Decodable {
        var model: String?
        var choices: [Choice]?
        var usage: Usage?
        var error: ErrorBody?
    }

    struct Choice: Decodable {
        var index: Int?
        var delta: Delta?
        var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }
    }

    struct Delta: Decodable {
        var content: String?
    }

    struct Usage: Decodable {
        var promptTokens: Int?
        var completionTokens: Int?

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
        }
    }

    /// An error sent inside the stream (vLLM and others, when generation fails midway):
    /// `{"error": {"message": …}}` or `{"error": "…"}`.
    struct ErrorBody: Decodable {
        var message: String

        private struct Detail: Decodable {
            var message: String?
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                message = text
            } else {
                message = try container.decode(Detail.self).message ?? "an error without a message"
            }
        }
    }
}
