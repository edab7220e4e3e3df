// The OpenAI-compatible request and response bodies, as much of them as the fake server reads and writes.

/// `POST /v1/embeddings` request body.
struct EmbeddingsRequest: Decodable {
    var model: String
    var input: [String]
    var dimensions: Int?
    var encodingFormat: String?

    enum CodingKeys: String, CodingKey {
        case model, input, dimensions
        case encodingFormat = "encoding_format"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.model = try container.decode(String.self, forKey: .model)
        self.dimensions = try container.decodeIfPresent(Int.self, forKey: .dimensions)
        self.encodingFormat = try container.decodeIfPresent(String.self, forKey: .encodingFormat)
        if let single = try? container.decode(String.self, forKey: .input) {
            self.input = [single]
        } else if let many = try? container.decode([String].self, forKey: .input) {
            self.input = many
        } else if (try? container.decode([Int].self, forKey: .input)) != nil
            || (try? container.decode([[Int]].self, forKey: .input)) != nil
        {
            throw WireError(param: "input", "token-array input is not supported by the fake model server; send text")
        } else {
            throw WireError(param: "input", "input must be a string or an array of strings")
        }
    }
}

/// `POST /v1/chat/completions` request body.
struct ChatCompletionRequest: Decodable {
    struct Message: Decodable {
        var role: String
        /// The text of the message: a string content, or the `text` parts of an array content joined by newlines.
        var content: String

        enum CodingKeys: String, CodingKey { case role, content }
        private struct Part: Decodable {
            var type: String
            var text: String?
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.role = try container.decode(String.self, forKey: .role)
            let isNull = try !container.contains(.content) || container.decodeNil(forKey: .content)
            if isNull {
                self.content = ""
            } else if let text = try? container.decode(String.self, forKey: .content) {
                self.content = text
            } else if let parts = try? container.decode([Part].self, forKey: .content) {
                self.content = parts.compactMap { $0.type == "text" ? $0.text : nil }.joined(separator: "\n")
            } else {
                throw WireError(param: "messages", "message content must be a string, an array of parts, or null")
            }
        }
    }

    struct ResponseFormat: Decodable {
        var type: String
    }

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    var model: String
    var messages: [Message]
    var stream: Bool?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Double?
    var responseFormat: ResponseFormat?
    var streamOptions: StreamOptions?

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, temperature
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case responseFormat = "response_format"
        case streamOptions = "stream_options"
    }

    /// The content of the last `user` message ("" when there is none).
    var lastUserMessage: String {
        self.messages.last { $0.role == "user" }?.content ?? ""
    }

    /// The completion limit, if any (`max_completion_tokens` wins over `max_tokens`).
    var completionLimit: Int? {
        self.maxCompletionTokens ?? self.maxTokens
    }

    /// Whether the caller asked for JSON output (`json_object` or `json_schema`).
    var wantsJSON: Bool {
        guard let type = self.responseFormat?.type else { return false }
        return type == "json_object" || type == "json_schema"
    }
}

/// A request body the server could not use, with the field it is about.
struct WireError: Error {
    var param: String?
    var message: String

    init(param: String?, _ message: String) {
        self.param = param
        self.message = message
    }
}

/// The OpenAI error body: `{"error": {"message", "type", "param", "code"}}`.
struct OpenAIErrorBody: Encodable {
    struct Detail: Encodable {
        var message: String
        var type: String
        var param: String?
        var code: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.message, forKey: .message)
            try container.encode(self.type, forKey: .type)
            try container.encode(self.param, forKey: .param)
            try container.encode(self.code, forKey: .code)
        }

        enum CodingKeys: String, CodingKey { case message, type, param, code }
    }

    var error: Detail
}

/// Token usage, in whitespace-separated words.
struct Usage: Encodable {
    var promptTokens: Int
    var completionTokens: Int?
    var totalTokens: Int

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}

/// `chat.completion` response body.
struct ChatCompletionResponse: Encodable {
    struct Choice: Encodable {
        struct Message: Encodable {
            var role = "assistant"
            var content: String
        }

        var index = 0
        var message: Message
        var finishReason: String

        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
    }

    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage
}

/// One `chat.completion.chunk` event of a streamed answer.
struct ChatCompletionChunk: Encodable {
    struct Choice: Encodable {
        struct Delta: Encodable {
            var role: String?
            var content: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encodeIfPresent(self.role, forKey: .role)
                try container.encodeIfPresent(self.content, forKey: .content)
            }

            enum CodingKeys: String, CodingKey { case role, content }
        }

        var index = 0
        var delta: Delta
        var finishReason: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.index, forKey: .index)
            try container.encode(self.delta, forKey: .delta)
            try container.encode(self.finishReason, forKey: .finishReason)  // `null` until the last chunk
        }

        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }
    }

    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.object, forKey: .object)
        try container.encode(self.created, forKey: .created)
        try container.encode(self.model, forKey: .model)
        try container.encode(self.choices, forKey: .choices)
        try container.encodeIfPresent(self.usage, forKey: .usage)
    }

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }
}

/// `GET /v1/models` response body.
struct ModelList: Encodable {
    struct Model: Encodable {
        var id: String
        var object = "model"
        var created = 0
        var ownedBy = "fake-model-server"

        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
    }

    var object = "list"
    var data: [Model]
}
