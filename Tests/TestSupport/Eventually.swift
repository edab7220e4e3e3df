/// Waits until `condition` holds, checking every 50 ms; throws ``TimedOutWaiting`` after `timeout`.
///
/// For conditions that a loaded machine reaches late but surely: the timeout rules out "never", not "slow".
public func eventually(
    _ what: @autoclosure () -> String, timeout: Duration = .seconds(60),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TimedOutWaiting(description: "timed out after \(timeout) waiting for: \(what())")
}

/// What ``eventually(_:timeout:_:)`` throws when its condition never held; a test reports it as an issue.
public struct TimedOutWaiting: Error, CustomStringConvertible {
    public let description: String
}
