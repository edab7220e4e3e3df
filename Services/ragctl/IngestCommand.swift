import ArgumentParser
import Crypto
import Foundation
import ModelClients

/// `ragctl ingest`: chunks text and Markdown files and posts them to the gateway's `POST /chunks`, skipping
/// documents a previous run already sent unchanged (a manifest in `--state-file`).
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest .txt and .md files (or folders of them) through the gateway, resumably.",
        discussion: """
            Each file is one document. Its doc_id is its path relative to the folder given (a file given \
            directly: its name), prefixed by --doc-prefix; characters outside [A-Za-z0-9._:/-] become '-'. \
            Documents are cut into chunks of at most --chunk-size characters that overlap by --overlap; in \
            Markdown each chunk stays within one section and starts with the section's heading path (the \
            heading lines from the top level down, e.g. "# Guide\\n## Install"), so every chunk says where it \
            comes from. A document's chunks go in batches of POST /chunks (seq 0, 1, …; metadata source and \
            section).

            Resumable: after the gateway accepts a document, its content hash (of exactly what was sent) is \
            recorded in --state-file, keyed by gateway, tenant and doc_id. A re-run skips documents whose hash \
            is unchanged ("skipped") and re-sends changed ones (same doc_id and seq replace the stored chunks; \
            if a document shrank, its chunks past the new end stay stored — the report says so). --force \
            sends everything. An interrupted run resumes at the first document not yet recorded.

            Without --token a development token is minted (as `ragctl token` does) for --user and --tenant, \
            with scope chunks:write and the lowest tier allowed to write --visibility.

            Example: ragctl ingest docs/ notes.md --visibility internal --tenant acme
            """
    )

    @Argument(help: "Files (.txt, .md) and folders to ingest; folders are searched recursively.")
    var paths: [String]

    @Option(help: "Who may retrieve the chunks: public, internal or confidential.")
    var visibility = "internal"

    @OptionGroup var gateway: GatewayOptions

    @Option(help: "Most characters of a chunk's text, without its heading path.")
    var chunkSize = 1000

    @Option(help: "Characters shared by consecutive chunks of a section.")
    var overlap = 150

    @Option(help: "Prefix of every doc_id (e.g. handbook/).")
    var docPrefix = ""

    @Option(help: "The manifest of documents already sent.")
    var stateFile = ProcessInfo.processInfo.environment["RAG_INGEST_STATE_FILE"] ?? ".data/ingest-state.json"

    @Flag(help: "Send every document, even those the manifest says were sent unchanged.")
    var force = false

    @Flag(help: "Print the chunks (line breaks as ⏎) instead of sending them; nothing is sent or recorded.")
    var dryRun = false

    static let tierForVisibility = ["public": "free", "internal": "standard", "confidential": "enterprise"]

    func validate() throws {
        guard Self.tierForVisibility[visibility] != nil else {
            throw ValidationError("--visibility must be public, internal or confidential")
        }
        guard chunkSize >= 100 && chunkSize <= 19_000 else { throw ValidationError("--chunk-size must be between 100 and 19000") }
        guard overlap >= 0 && overlap < chunkSize / 2 else { throw ValidationError("--overlap must be between 0 and half of --chunk-size") }
    }

    func run() async throws {
        let documents = try Self.findDocuments(paths, prefix: docPrefix)
        guard !documents.isEmpty else { throw CommandFailure("no .txt or .md files in \(paths.joined(separator: " "))") }
        let chunker = DocumentChunker(maxCharacters: chunkSize, overlap: overlap)
        if dryRun {
            for document in documents {
                let chunks = chunker.chunks(of: try document.read(), isMarkdown: document.isMarkdown)
                print("\(document.docID) (\(document.path)): \(chunks.count) chunks")
                for (seq, chunk) in chunks.enumerated() {
                    print("  [\(seq)] \(chunk.text.replacingOccurrences(of: "\n", with: "⏎"))")
                }
            }
            return
        }

        let token = try await gateway.bearerToken(tier: Self.tierForVisibility[visibility]!, scopes: ["chunks:write"])
        let scope = "\(gateway.gateway) tenant=\(Self.tenant(of: token) ?? "-")"
        var manifest = try IngestManifest(path: stateFile)
        let http = CurlHTTPClient(configuration: .init(maxConcurrentRequests: 2, defaultTimeout: .seconds(60)))
        defer { http.shutdown() }
        var sent = 0, skipped = 0, failed = 0, chunksSent = 0
        for (index, document) in documents.enumerated() {
            let progress = "[\(index + 1)/\(documents.count)] \(document.docID)"
            do {
                let chunks = chunker.chunks(of: try document.read(), isMarkdown: document.isMarkdown)
                guard !chunks.isEmpty else {
                    print("\(progress): empty, nothing to send")
                    continue
                }
                let bodies = chunks.enumerated().map { seq, chunk in
                    ChunkBody(doc_id: document.docID, seq: seq, text: chunk.text, visibility: visibility,
                              metadata: ["source": document.relativePath, "section": String(chunk.headingPath.joined(separator: " > ").prefix(1024))])
                }
                let hash = Self.sha256(try JSONEncoder.sorted.encode(bodies))
                let key = "\(scope) \(document.docID)"
                let previous = manifest.entries[key]
                if !force, let previous, previous.sha256 == hash {
                    print("\(progress): skipped (sent unchanged before, \(previous.chunks) chunks)")
                    skipped += 1
                    continue
                }
                try await post(bodies, token: token, http: http) { accepted in
                    print("\(progress): \(accepted)/\(bodies.count) chunks accepted", terminator: "\r")
                    fflush(nil)
                }
                var line = "\(progress): sent \(bodies.count) chunks"
                if let previous, previous.chunks > bodies.count {
                    line += " (it had \(previous.chunks): seq \(bodies.count)…\(previous.chunks - 1) stay stored)"
                }
                print(line)
                manifest.entries[key] = .init(sha256: hash, chunks: bodies.count, sentAt: Date().ISO8601Format())
                try manifest.save()
                sent += 1
                chunksSent += bodies.count
            } catch let failure as IngestFailure where failure.isFatal {
                print("\(progress): failed: \(failure)")
                throw CommandFailure("stopped: \(failure) (\(sent) documents sent, \(skipped) skipped before this)")
            } catch {
                print("\(progress): failed: \(error)")
                failed += 1
            }
        }
        print("done: \(sent) documents sent (\(chunksSent) chunks), \(skipped) skipped, \(failed) failed; manifest \(stateFile)")
        if failed > 0 { throw CommandFailure("\(failed) documents failed; run again to retry them") }
    }

    // MARK: - Sending

    struct ChunkBody: Encodable {
        var doc_id: String
        var seq: Int
        var text: String
        var visibility: String
        var metadata: [String: String]
    }

    struct IngestFailure: Error, CustomStringConvertible {
        var description: String
        /// Every other document would fail the same way (authentication, authorisation).
        var isFatal: Bool
    }

    /// Posts the document's chunks in batches of at most 256 chunks and about 256 KiB; a batch the gateway
    /// finds too large (413) is halved; 429 and 503 are retried after their Retry-After.
    private func post(_ bodies: [ChunkBody], token: String, http: CurlHTTPClient, progress: (Int) -> Void) async throws {
        var pending: [ArraySlice<ChunkBody>] = []
        var batch: ArraySlice<ChunkBody> = []
        var bytes = 0
        var start = 0
        for (index, body) in bodies.enumerated() {
            let size = body.text.utf8.count + 200
            if index > start && (index - start == 256 || bytes + size > 256 * 1024) {
                pending.append(bodies[start..<index])
                start = index
                bytes = 0
            }
            bytes += size
        }
        pending.append(bodies[start...])
        var accepted = 0
        while !pending.isEmpty {
            batch = pending.removeFirst()
            let request = HTTPRequest(
                method: .post, url: gateway.url("/chunks"),
                headers: ["Content-Type": "application/json", "Authorization": "Bearer \(token)"],
                body: Array(try JSONEncoder.sorted.encode(["chunks": Array(batch)])), timeout: .seconds(60))
            var attempt = 0
            while true {
                attempt += 1
                let response: HTTPResponse
                do {
                    response = try await http.execute(request)
                } catch {
                    throw IngestFailure(description: "gateway \(gateway.gateway) unreachable: \(error)", isFatal: true)
                }
                let text = String(decoding: response.body, as: UTF8.self)
                switch response.status {
                case 202:
                    accepted += batch.count
                    progress(accepted)
                case 413 where batch.count > 1:
                    let half = batch.startIndex + batch.count / 2
                    pending.insert(contentsOf: [batch[..<half], batch[half...]], at: 0)
                case 429 where attempt < 6, 503 where attempt < 6:
                    try await Task.sleep(for: response.retryAfter() ?? .seconds(1))
                    continue
                case 401, 403:
                    throw IngestFailure(description: "\(response.status) from the gateway: \(text)", isFatal: true)
                default:
                    throw IngestFailure(description: "\(response.status) from the gateway: \(text)", isFatal: false)
                }
                break
            }
        }
    }

    // MARK: - Finding documents

    struct Document {
        var path: String
        var relativePath: String
        var docID: String
        var isMarkdown: Bool

        func read() throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read \(path)") }
            guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure("\(path) is not UTF-8 text") }
            return text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\u{0}", with: "")
        }
    }

    static let extensions: Set<String> = ["txt", "md", "markdown"]

    static func findDocuments(_ paths: [String], prefix: String) throws -> [Document] {
        var documents: [Document] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CommandFailure("no such file or folder: \(path)") }
            if isDirectory.boolValue {
                let root = URL(fileURLWithPath: path).standardizedFileURL.path
                guard let enumerator = manager.enumerator(atPath: root) else { continue }
                var found: [String] = []
                while let relative = enumerator.nextObject() as? String {
                    let name = (relative as NSString).lastPathComponent
                    if name.hasPrefix(".") { continue }
                    if extensions.contains((relative as NSString).pathExtension.lowercased()) { found.append(relative) }
                }
                for relative in found.sorted() {
                    documents.append(Document(path: root + "/" + relative, relativePath: relative, docID: docID(prefix + relative),
                                              isMarkdown: !relative.lowercased().hasSuffix(".txt")))
                }
            } else {
                guard extensions.contains((path as NSString).pathExtension.lowercased()) else {
                    throw CommandFailure("\(path): only .txt and .md files can be ingested")
                }
                let name = (path as NSString).lastPathComponent
                documents.append(Document(path: path, relativePath: name, docID: docID(prefix + name), isMarkdown: !name.lowercased().hasSuffix(".txt")))
            }
        }
        var seen: Set<String> = []
        for document in documents where !seen.insert(document.docID).inserted {
            throw CommandFailure("two files map to doc_id \(document.docID); ingest them separately or use --doc-prefix")
        }
        return documents
    }

    /// A doc_id the chunk schema accepts: `[A-Za-z0-9._:/-]`, at most 128 characters (longer paths keep their
    /// start and end a hash of the whole).
    static func docID(_ relativePath: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-")
        let id = String(relativePath.map { allowed.contains($0) ? $0 : "-" })
        guard id.count > 128 else { return id }
        return String(id.prefix(111)) + "~" + String(sha256(Data(relativePath.utf8)).prefix(16))
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The `tenant` claim of a JWT, read without verifying it (only to key the manifest).
    static func tenant(of token: String) -> String? {
        let parts = token.split(separator: ".")
        guard parts.count >= 2 else { return nil }
        var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while payload.count % 4 != 0 { payload += "=" }
        guard let data = Data(base64Encoded: payload),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return claims["tenant"] as? String
    }
}

/// The documents `ragctl ingest` has sent: content hash and chunk count per gateway, tenant and doc_id,
/// as a JSON file written atomically after every document.
struct IngestManifest {
    struct Entry: Codable {
        var sha256: String
        var chunks: Int
        var sentAt: String
    }

    let path: String
    var entries: [String: Entry]

    init(path: String) throws {
        self.path = path
        if let data = FileManager.default.contents(atPath: path) {
            do {
                entries = try JSONDecoder().decode([String: Entry].self, from: data)
            } catch {
                throw CommandFailure("\(path) is not an ingest manifest (\(error)); move it away or pass --state-file")
            }
        } else {
            entries = [:]
        }
    }

    func save() throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONEncoder.sorted.encode(entries).write(to: url, options: .atomic)
    }
}

extension JSONEncoder {
    /// Sorted keys: the same value always gives the same bytes (the manifest's hashes rely on it).
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
