import FakeModelServer
import Foundation
import TestSupport
import Testing

/// The browser UI (GET /) in a real browser — headless Chromium driven by Selenium (Tests/browser/ui_check.py)
/// — against the whole query path: gateway, embedder, rag-chain, outbox-relay, the fake chat model streaming
/// its tokens. Screenshots land in `.run/test-artifacts/`.
@Suite("Browser UI in headless Chromium", .timeLimit(.minutes(5)))
struct BrowserUITests {
    static let artifacts = GatewayHarness.repositoryRoot + "/.run/test-artifacts"

    /// Runs one step of the browser script; fails the test with its output when the page misbehaves.
    static func browse(_ step: String, _ harness: RagChainHarness) async throws -> String {
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts + "/browser-ui-\(step).png"
        let python = GatewayHarness.repositoryRoot + "/.data/venv/bin/python3"
        let result = try await ProcessRunner.run(python, [GatewayHarness.repositoryRoot + "/Tests/browser/ui_check.py", step,
                                                          harness.gateway.url("/"), screenshot])
        try #require(result.status == 0, "browser step \(step) (exit \(result.status)):\n\(result.text)\(result.errors)")
        #expect(FileManager.default.fileExists(atPath: screenshot), "screenshot \(screenshot)")
        return result.text
    }

    @Test("ingest through the form, ask as every tier: enterprise's answer streams in with its citation, free and standard get the refusal")
    func ingestAskAndCompareTiers() async throws {
        // Ten tokens 150 ms apart: long enough for the page to show the answer growing.
        let controls = FakeModelServer.Controls(tokenDelayMilliseconds: 150, answerTemplate: "The bands are reviewed every March [1].")
        let harness = try await RagChainHarness(provider: .fake(controls), environment: QueryPathEndToEndTests.chatEnvironment,
                                                developmentTokens: true)
        try await harness.startRelay()

        let ingested = try await Self.browse("ingest", harness)
        #expect(ingested.contains("ingested: 202"))
        try await harness.pipeline.waitForRows(1)

        let asked = try await Self.browse("ask", harness)
        #expect(asked.contains("enterprise citations: [salaries"))
        #expect(asked.contains("free answer:") && asked.contains("standard answer:"))
        print(asked)
    }
}
