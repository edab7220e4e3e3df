import Crypto
import Foundation
import Schemas
import WorkerRuntime

/// Which results go to human review, decided from the result and its tier alone — no clock, no random
/// generator, no state — so a replay of rag.results samples exactly the same queries.
///
/// Always sampled: `failed` and `refused` results, answers the rag-chain flagged (a `review-flag` header),
/// and answers whose best citation scored below ``lowScore`` (or that cite nothing). Other answers are
/// sampled when the query_id's ``fraction(of:)`` is below the rate of their tier and model.
struct SamplingPolicy: Sendable, Equatable {
    /// Rates by `tier`, `tier/model` or `*/model` (see ``rate(tier:model:)``).
    var rates: [String: Double]
    var defaultRate: Double
    var lowScore: Double

    /// Why a result is sampled: the `reason` of its ReviewItem.
    enum Reason: String, Sendable, CaseIterable {
        case failed, refused, flagged
        case lowScore = "low_score"
        /// Chosen by the rate of its tier and model.
        case sampled
    }

    /// The reason to review `result`, or nil when it is not sampled.
    /// - Parameters:
    ///   - tier: The caller's tier (the `user-tier` header).
    ///   - flagged: Whether the rag-chain flagged the answer for review.
    func reason(toReview result: ResultEvent, tier: String, flagged: Bool) -> Reason? {
        switch result.status {
        case .failed: return .failed
        case .refused: return .refused
        case .answered: break
        }
        if flagged { return .flagged }
        if (result.citations.map(\.score).max() ?? -.infinity) < lowScore { return .lowScore }
        return Self.fraction(of: result.queryID) < rate(tier: tier, model: result.model) ? .sampled : nil
    }

    /// The sampling rate of an answer of `model` to a caller of `tier`: the most specific entry of ``rates``
    /// (`tier/model`, then `tier`, then `*/model`), else ``defaultRate``.
    func rate(tier: String, model: String) -> Double {
        rates["\(tier)/\(model)"] ?? rates[tier] ?? rates["*/\(model)"] ?? defaultRate
    }

    /// A fraction in [0, 1) that depends on `queryID` only, the same in every process and on every run:
    /// the first 8 bytes of its SHA-256 as a big-endian integer, scaled down (53 bits, exactly representable).
    /// Not Swift's `Hasher`, which is seeded randomly per process.
    static func fraction(of queryID: String) -> Double {
        var bits: UInt64 = 0
        for byte in SHA256.hash(data: Array(queryID.utf8)).prefix(8) {
            bits = bits << 8 | UInt64(byte)
        }
        return Double(bits >> 11) * 0x1p-53
    }

    /// Parses `RAG_REVIEW_SAMPLE_RATES`: `key=rate` entries separated by `;`, a key being `tier`, `tier/model`
    /// or `*/model` (a model name may itself contain `/` and `=`: the rate follows the last `=`).
    static func parseRates(_ text: String) throws(ConfigurationValueRejection) -> [String: Double] {
        var rates: [String: Double] = [:]
        for entry in text.split(separator: ";") {
            let entry = entry.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            guard let equals = entry.lastIndex(of: "=") else {
                throw ConfigurationValueRejection("has an entry without '=': \(entry)")
            }
            let key = entry[..<equals].trimmingCharacters(in: .whitespaces)
            let rateText = entry[entry.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key != "*", !key.hasPrefix("/"), !key.hasSuffix("/") else {
                throw ConfigurationValueRejection("has an entry without a tier or model: \(entry)")
            }
            guard let rate = Double(rateText), rate.isFinite, (0...1).contains(rate) else {
                throw ConfigurationValueRejection("has a rate that is not a number in 0...1: \(entry)")
            }
            guard rates.updateValue(rate, forKey: key) == nil else {
                throw ConfigurationValueRejection("names \(key) twice")
            }
        }
        return rates
    }
}
