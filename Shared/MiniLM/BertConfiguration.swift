import Foundation

/// The shape of a BERT encoder and of the sentence-transformers pipeline around it, read from a
/// model directory: `config.json` (the encoder), `1_Pooling/config.json` (must be mean pooling) and,
/// when present, `sentence_bert_config.json` (`max_seq_length`; 256 when the file is absent).
struct BertConfiguration: Sendable, Equatable {
    var vocabularySize: Int
    var hiddenSize: Int
    var layerCount: Int
    var headCount: Int
    var intermediateSize: Int
    var maxPositionEmbeddings: Int
    var typeVocabularySize: Int
    var layerNormEpsilon: Float
    /// Tokens per text fed to the encoder, [CLS] and [SEP] included; longer texts are truncated.
    var maxSequenceLength: Int

    var headSize: Int { hiddenSize / headCount }

    /// The sequence length used when `sentence_bert_config.json` is absent (sentence-transformers' value for this model).
    static let defaultMaxSequenceLength = 256

    private struct EncoderFile: Decodable {
        let model_type: String?
        let vocab_size: Int
        let hidden_size: Int
        let num_hidden_layers: Int
        let num_attention_heads: Int
        let intermediate_size: Int
        let max_position_embeddings: Int
        let type_vocab_size: Int?
        let layer_norm_eps: Double?
        let hidden_act: String?
        let position_embedding_type: String?
    }

    private struct PoolingFile: Decodable {
        let word_embedding_dimension: Int?
        let pooling_mode_cls_token: Bool?
        let pooling_mode_mean_tokens: Bool?
        let pooling_mode_max_tokens: Bool?
        let pooling_mode_mean_sqrt_len_tokens: Bool?
    }

    private struct SentenceBertFile: Decodable {
        let max_seq_length: Int?
    }

    /// Reads and validates the configuration files in `directory`.
    init(directory: String) throws {
        let encoderPath = directory + "/config.json"
        let encoder = try Self.decode(EncoderFile.self, at: encoderPath)
        if let type = encoder.model_type, type != "bert" {
            throw MiniLMError(.unsupportedModel, path: encoderPath, "model_type '\(type)' is not 'bert'")
        }
        if let act = encoder.hidden_act, act != "gelu" {
            throw MiniLMError(.unsupportedModel, path: encoderPath, "hidden_act '\(act)' is not 'gelu' (exact erf GELU)")
        }
        if let kind = encoder.position_embedding_type, kind != "absolute" {
            throw MiniLMError(.unsupportedModel, path: encoderPath, "position_embedding_type '\(kind)' is not 'absolute'")
        }
        guard encoder.hidden_size > 0, encoder.num_attention_heads > 0, encoder.hidden_size % encoder.num_attention_heads == 0,
              encoder.num_hidden_layers > 0, encoder.intermediate_size > 0, encoder.vocab_size > 0,
              encoder.max_position_embeddings > 2
        else {
            throw MiniLMError(.invalidModelFile, path: encoderPath, "inconsistent sizes (hidden, heads, layers, vocabulary)")
        }

        guard encoder.hidden_size % 8 == 0 else {
            throw MiniLMError(.unsupportedModel, path: encoderPath, "hidden_size \(encoder.hidden_size) is not a multiple of 8")
        }

        let poolingPath = directory + "/1_Pooling/config.json"
        let pooling = try Self.decode(PoolingFile.self, at: poolingPath)
        guard pooling.pooling_mode_mean_tokens == true, pooling.pooling_mode_cls_token != true,
              pooling.pooling_mode_max_tokens != true, pooling.pooling_mode_mean_sqrt_len_tokens != true
        else {
            throw MiniLMError(.unsupportedModel, path: poolingPath, "only mean pooling is supported")
        }
        if let dimension = pooling.word_embedding_dimension, dimension != encoder.hidden_size {
            throw MiniLMError(.invalidModelFile, path: poolingPath, "word_embedding_dimension \(dimension) ≠ hidden_size \(encoder.hidden_size)")
        }

        var maxSequenceLength = Self.defaultMaxSequenceLength
        let sentenceBertPath = directory + "/sentence_bert_config.json"
        if FileManager.default.fileExists(atPath: sentenceBertPath),
           let value = try Self.decode(SentenceBertFile.self, at: sentenceBertPath).max_seq_length {
            maxSequenceLength = value
        }
        guard maxSequenceLength >= 2 else {
            throw MiniLMError(.invalidModelFile, path: sentenceBertPath, "max_seq_length \(maxSequenceLength) is too small")
        }

        self.vocabularySize = encoder.vocab_size
        self.hiddenSize = encoder.hidden_size
        self.layerCount = encoder.num_hidden_layers
        self.headCount = encoder.num_attention_heads
        self.intermediateSize = encoder.intermediate_size
        self.maxPositionEmbeddings = encoder.max_position_embeddings
        self.typeVocabularySize = encoder.type_vocab_size ?? 2
        self.layerNormEpsilon = Float(encoder.layer_norm_eps ?? 1e-12)
        self.maxSequenceLength = min(maxSequenceLength, encoder.max_position_embeddings)
    }

    /// Decodes a JSON file, turning "missing" and "malformed" into distinct errors that name the file.
    static func decode<T: Decodable>(_ type: T.Type, at path: String) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MiniLMError(.modelNotFound, path: path, "cannot read file")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw MiniLMError(.invalidModelFile, path: path, "malformed JSON: \(error)")
        }
    }
}
