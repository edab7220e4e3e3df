import FakeModelServer
import Foundation
import Testing

@Suite("POST /v1/embeddings", .timeLimit(.minutes(2)))
struct EmbeddingsEndpointTests {
    @Test("a single input gets the OpenAI shape and the predictable unit vector")
    func singleInput() async throws {
        try await withServer { _, target in
            let text = "Kafka decouples producers from consumers"
            let result = try await post(target, "/v1/embeddings", embeddingsBody([text], batch: false))
            #expect(result.status == 200)
            #expect(result.headers["content-type"] == "application/json")
            let reply = try EmbeddingsReply(result)
            #expect(reply.object == "list")
            #expect(reply.model == "fake-embedding")
            let item = try #require(reply.data.first)
            #expect(reply.data.count == 1)
            #expect(item.object == "embedding")
            #expect(item.index == 0)
            #expect(item.embedding.count == 384)
            #expect(item.embedding == FakeEmbedding.vector(for: text, model: "fake-embedding", dimensions: 384))
            let norm = item.embedding.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            #expect(reply.usage.promptTokens == 5)
            #expect(reply.usage.totalTokens == 5)
        }
    }

    @Test("vectors depend only on model, text and dimensions")
    func determinism() async throws {
        try await withServer { _, target in
            func vector(_ text: String, model: String = "fake-embedding", extra: String = "") async throws -> [Float] {
                let result = try await post(target, "/v1/embeddings", embeddingsBody([text], model: model, extra: extra))
                #expect(result.status == 200)
                return try #require(try EmbeddingsReply(result).data.first).embedding
            }
            let first = try await vector("the same text")
            let second = try await vector("the same text")
            #expect(first == second)
            #expect(try await vector("another text") != first)
            #expect(try await vector("the same text", model: "other-model") != first)
            #expect(try await vector("the same text", model: "other-model") == FakeEmbedding.vector(for: "the same text", model: "other-model"))

            let short = try await vector("the same text", extra: ",\"dimensions\":64")
            #expect(short.count == 64)
            #expect(short == FakeEmbedding.vector(for: "the same text", model: "fake-embedding", dimensions: 64))
        }
        // And across server instances: nothing depends on server state.
        let again = try await withServer { _, target in
            try EmbeddingsReply(try await post(target, "/v1/embeddings", embeddingsBody(["the same text"]))).data[0].embedding
        }
        #expect(again == FakeEmbedding.vector(for: "the same text", model: "fake-embedding"))
    }

    @Test("a batch is answered in input order, one vector per input")
    func batch() async throws {
        try await withServer(.init(defaultDimensions: 128)) { _, target in
            let texts = ["alpha", "beta gamma", "alpha", "délta ε 42"]
            let result = try await post(target, "/v1/embeddings", embeddingsBody(texts))
            #expect(result.status == 200)
            let reply = try EmbeddingsReply(result)
            #expect(reply.data.map(\.index) == [0, 1, 2, 3])
            for (index, text) in texts.enumerated() {
                #expect(reply.data[index].embedding == FakeEmbedding.vector(for: text, model: "fake-embedding", dimensions: 128))
            }
            #expect(reply.data[0].embedding == reply.data[2].embedding)
            #expect(reply.usage.promptTokens == 7)
        }
    }

    @Test("encoding_format base64 carries the same little-endian floats")
    func base64() async throws {
        try await withServer { _, target in
            let result = try await post(target, "/v1/embeddings", embeddingsBody(["hello base64"], extra: ",\"encoding_format\":\"base64\""))
            #expect(result.status == 200)
            let object = try #require(result.jsonObject)
            let data = try #require(object["data"] as? [[String: Any]])
            let encoded = try #require(data.first?["embedding"] as? String)
            let bytes = try #require(Data(base64Encoded: encoded))
            #expect(bytes.count == 384 * 4)
            let floats = stride(from: 0, to: bytes.count, by: 4).map { offset in
                Float(bitPattern: bytes[offset..<(offset + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            }
            #expect(floats == FakeEmbedding.vector(for: "hello base64", model: "fake-embedding"))
        }
    }

    @Test("invalid requests are answered 400 with an OpenAI error naming the field")
    func invalidRequests() async throws {
        try await withServer { server, target in
            let bodies = [
                ("{\"model\":\"fake-embedding\"}", "input"),
                ("{\"model\":\"fake-embedding\",\"input\":[]}", "input"),
                ("{\"model\":\"fake-embedding\",\"input\":[1,2,3]}", "input"),
                ("{\"input\":\"text\"}", "model"),
                ("{\"model\":\"fake-embedding\",\"input\":\"x\",\"dimensions\":0}", "dimensions"),
            ]
            for (body, param) in bodies {
                let result = try await post(target, "/v1/embeddings", body)
                #expect(result.status == 400, "\(body)")
                let error = try ErrorReply(result)
                #expect(error.error.type == "invalid_request_error")
                #expect(error.error.param == param, "\(body): \(error.error.message)")
            }
            let notJSON = try await post(target, "/v1/embeddings", "this is not json")
            #expect(notJSON.status == 400)
            #expect(try ErrorReply(notJSON).error.type == "invalid_request_error")
            #expect(server.stats.count(.invalid, on: .embeddings) == bodies.count + 1)
            #expect(server.stats.embeddedTexts == 0)
        }
    }

    @Test("unknown models are refused with 404 model_not_found when configured")
    func unknownModel() async throws {
        try await withServer(.init(embeddingModels: ["known"], rejectUnknownModels: true)) { _, target in
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"], model: "known")).status == 200)
            let result = try await post(target, "/v1/embeddings", embeddingsBody(["x"], model: "unknown"))
            #expect(result.status == 404)
            #expect(try ErrorReply(result).error.code == "model_not_found")
        }
    }

    @Test("texts sharing words are closer than unrelated texts")
    func sharedWordsAreSimilar() {
        let question = FakeEmbedding.vector(for: "How does Kafka store consumer offsets?", model: "m")
        let related = FakeEmbedding.vector(for: "Kafka stores consumer offsets in a compacted topic.", model: "m")
        let unrelated = FakeEmbedding.vector(for: "Postgres uses write-ahead logging for durability.", model: "m")
        #expect(dot(question, related) > dot(question, unrelated) + 0.2)
        // A shorter vector is the renormalised prefix of a longer one.
        let long = FakeEmbedding.vector(for: "prefix property", model: "m", dimensions: 256)
        let short = FakeEmbedding.vector(for: "prefix property", model: "m", dimensions: 32)
        let prefixNorm = long.prefix(32).reduce(0) { $0 + $1 * $1 }.squareRoot()
        for (a, b) in zip(short, long.prefix(32)) {
            #expect(abs(a - b / prefixNorm) < 1e-5)
        }
    }
}
