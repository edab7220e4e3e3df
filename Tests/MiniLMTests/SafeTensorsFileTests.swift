import Foundation
import Testing

@testable import MiniLM

/// The safetensors reader on small synthetic files; needs no model.
@Suite("MiniLM safetensors reader")
struct SafeTensorsFileTests {
    /// Writes a safetensors file with `header` JSON (padded to 8 bytes) followed by `data`.
    static func write(header: String, data: [UInt8]) throws -> String {
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        bytes += json + data
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
    }

    @Test("reads F32 tensors and checks their shape", .timeLimit(.minutes(1)))
    func readsTensors() throws {
        let path = try Self.write(
            header: #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}"#,
            data: Self.floatBytes([1, 2, 3, 4]) + [UInt8](repeating: 0, count: 8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(Set(file.tensors.keys) == ["a", "b"])
        #expect(Array(try file.float32("a", shape: [2, 2])) == [1, 2, 3, 4])
        #expect(throws: MiniLMError.self) { try file.float32("a", shape: [4]) }
        #expect(throws: MiniLMError.self) { try file.float32("b", shape: [1]) }
        #expect(throws: MiniLMError.self) { try file.float32("missing", shape: [1]) }
    }

    @Test("rejects inconsistent headers with the path in the error", .timeLimit(.minutes(1)))
    func rejectsInconsistentHeaders() throws {
        let bad: [(String, [UInt8])] = [
            (#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, Self.floatBytes([1, 2])),  // truncated data
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, Self.floatBytes([1, 2])),  // shape ≠ bytes
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, Self.floatBytes([1, 2])),  // reversed offsets
            (#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, Self.floatBytes([1, 2])),  // unknown dtype
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
             Self.floatBytes([1, 2])),  // overlap
            (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, Self.floatBytes([1, 2])),  // negative dimension
            (#"{"a": 3}"#, []),  // not a tensor entry
            (#"not json"#, []),
        ]
        for (header, data) in bad {
            let path = try Self.write(header: header, data: data)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let error = #expect(throws: MiniLMError.self, "\(header)") { try SafeTensorsFile(path: path) }
            #expect(error?.code == .invalidModelFile, "\(header)")
            #expect(error?.path == path)
        }
    }

    @Test("rejects a header length beyond the file", .timeLimit(.minutes(1)))
    func rejectsHeaderLength() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors").path
        try Data(withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Array($0) } + Array("{}".utf8)).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: MiniLMError.self) { try SafeTensorsFile(path: path) }
        #expect(error?.code == .invalidModelFile)
    }
}
