import Foundation

/// How far a chunk may be seen (SPEC §4).
public enum Visibility: String, Sendable, Hashable, CaseIterable, Comparable {
    case `public`
    case `internal`
    case confidential

    /// Order of sensitivity: public < internal < confidential.
    public var rank: Int {
        switch self {
        case .public: 0
        case .internal: 1
        case .confidential: 2
        }
    }

    public static func < (lhs: Visibility, rhs: Visibility) -> Bool { lhs.rank < rhs.rank }
}

/// A caller's tier, as named in the token, with its place in the policy's order (higher sees more).
public struct Tier: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public let rank: Int

    public var description: String { rawValue }
}

/// Which visibilities each tier may read and write (SPEC §4). Tiers are ordered by how much they see.
///
/// The default is `free` → {public}, `standard` → {public, internal}, `enterprise` → {public, internal,
/// confidential}. Another mapping is written as `free=public;standard=public,internal;…`.
public struct TierPolicy: Sendable, Hashable {
    private let visibilitiesByTier: [String: Set<Visibility>]

    public static let `default` = TierPolicy(uncheckedMapping: [
        "free": [.public],
        "standard": [.public, .internal],
        "enterprise": [.public, .internal, .confidential],
    ])

    private init(uncheckedMapping: [String: Set<Visibility>]) {
        self.visibilitiesByTier = uncheckedMapping
    }

    /// Parses `tier=visibility,visibility;tier=…`.
    public init(parsing text: String) throws(TierPolicyError) {
        var mapping: [String: Set<Visibility>] = [:]
        for entry in text.split(separator: ";") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw TierPolicyError(message: "expected tier=visibility[,visibility…], got \"\(entry)\"")
            }
            var visibilities: Set<Visibility> = []
            for name in parts[1].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let visibility = Visibility(rawValue: name) else {
                    throw TierPolicyError(message: "unknown visibility \"\(name)\" for tier \(parts[0]) (public, internal, confidential)")
                }
                visibilities.insert(visibility)
            }
            guard !visibilities.isEmpty else { throw TierPolicyError(message: "tier \(parts[0]) has no visibility") }
            guard mapping.updateValue(visibilities, forKey: parts[0]) == nil else {
                throw TierPolicyError(message: "tier \(parts[0]) is listed twice")
            }
        }
        guard !mapping.isEmpty else { throw TierPolicyError(message: "no tiers") }
        self.visibilitiesByTier = mapping
    }

    /// The tier of that name, or nil when the policy does not know it (the gateway answers 403).
    public func tier(named name: String) -> Tier? {
        guard let visibilities = visibilitiesByTier[name] else { return nil }
        return Tier(rawValue: name, rank: Self.rank(of: visibilities))
    }

    public func visibilities(for tier: Tier) -> Set<Visibility> {
        visibilitiesByTier[tier.rawValue] ?? []
    }

    /// Whether a caller of `tier` may read or ingest chunks of `visibility`.
    public func allows(tier: Tier, visibility: Visibility) -> Bool {
        visibilities(for: tier).contains(visibility)
    }

    /// The rank of a tier named in a trusted header; nil for a name the policy does not know.
    public func rank(ofTierNamed name: String) -> Int? {
        tier(named: name)?.rank
    }

    /// Rank = the most sensitive visibility the tier sees, so a lower rank never sees more.
    private static func rank(of visibilities: Set<Visibility>) -> Int {
        visibilities.map(\.rank).max() ?? -1
    }
}

public struct TierPolicyError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
