public import WorkerRuntime

extension ConfigurationVariable where Value == TierPolicy {
    /// `RAG_TIER_VISIBILITIES`: which visibilities each tier may see (and ingest). Read by the gateway, which
    /// checks ingestion and filters SSE results, and by rag-chain, which filters retrieval: both must agree.
    public static var tierVisibilities: Self {
        ConfigurationVariable(
            name: "RAG_TIER_VISIBILITIES", summary: "Which visibilities each tier may see and ingest.",
            expectation: "tier=visibility[,visibility…] entries separated by ;",
            defaultValue: .default, defaultDescription: "free=public;standard=public,internal;enterprise=public,internal,confidential",
            placeholder: .default,
            parse: { raw throws(ConfigurationValueRejection) in
                do { return try TierPolicy(parsing: raw) } catch let error as TierPolicyError {
                    throw ConfigurationValueRejection("is invalid: \(error.message)")
                } catch { throw ConfigurationValueRejection("is invalid") }
            })
    }
}
