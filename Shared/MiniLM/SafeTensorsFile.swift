import Foundation

#if _endian(big)
#error("safetensors stores little-endian data; this reader maps it without byte swapping")
#endif

/// A read-only, memory-mapped `.safetensors` file.
///
/// Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping tensor names to
/// `{dtype, shape, data_offsets}` (offsets relative to the end of the header), then the raw data.
/// Everything is validated on open — header bounds, JSON, dtype, that each tensor's byte length equals
/// its shape times its element size, that it lies inside the file and that tensors do not overlap —
/// so a truncated or corrupt file fails with a thrown ``MiniLMError`` naming the path, never a crash.
///
/// Pointers handed out by ``float32(_:shape:)`` point into the mapping and stay valid for the
/// lifetime of this object. `@unchecked Sendable`: the mapping is `PROT_READ` and nothing is mutated
/// after `init`.
final class SafeTensorsFile: @unchecked Sendable {
    /// Where one tensor lives and what it holds.
    struct TensorInfo: Sendable {
        let dtype: String
        let shape: [Int]
        /// Byte offset from the start of the file.
        let fileOffset: Int
        let byteCount: Int
    }

    let path: String
    let tensors: [String: TensorInfo]
    private let base: UnsafeMutableRawPointer
    private let mappedLength: Int

    private static let elementSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8,
        "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MiniLMError(.modelNotFound, path: path, "cannot open safetensors file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw MiniLMError(.modelNotFound, path: path, "cannot stat safetensors file: \(String(cString: strerror(errno)))")
        }
        let fileSize = Int(st.st_size)
        guard fileSize >= 8 else {
            throw MiniLMError(.invalidModelFile, path: path, "safetensors file is \(fileSize) bytes, too short for a header")
        }
        guard let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw MiniLMError(.invalidModelFile, path: path, "cannot map safetensors file: \(String(cString: strerror(errno)))")
        }
        do {
            self.tensors = try Self.parseHeader(UnsafeRawPointer(mapped), fileSize: fileSize, path: path)
        } catch {
            munmap(mapped, fileSize)
            throw error
        }
        self.base = mapped
        self.mappedLength = fileSize
    }

    deinit {
        munmap(base, mappedLength)
    }

    /// The F32 tensor `name`, checked to have exactly `shape`. Points into the mapping (no copy).
    func float32(_ name: String, shape: [Int]) throws -> UnsafeBufferPointer<Float> {
        guard let info = tensors[name] else {
            throw MiniLMError(.invalidModelFile, path: path, "tensor '\(name)' is missing")
        }
        guard info.dtype == "F32" else {
            throw MiniLMError(.unsupportedModel, path: path, "tensor '\(name)' has dtype \(info.dtype), expected F32")
        }
        guard info.shape == shape else {
            throw MiniLMError(.invalidModelFile, path: path, "tensor '\(name)' has shape \(info.shape), expected \(shape)")
        }
        let start = UnsafeRawPointer(base) + info.fileOffset
        guard Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 else {
            throw MiniLMError(.unsupportedModel, path: path, "tensor '\(name)' is not 4-byte aligned in the file")
        }
        let count = info.byteCount / MemoryLayout<Float>.size
        return UnsafeBufferPointer(start: start.assumingMemoryBound(to: Float.self), count: count)
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    private struct Header: Decodable {
        var entries: [String: Entry] = [:]
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            for key in container.allKeys where key.stringValue != "__metadata__" {
                entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
            }
        }
    }

    private static func parseHeader(_ base: UnsafeRawPointer, fileSize: Int, path: String) throws -> [String: TensorInfo] {
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength >= 2, headerLength <= UInt64(fileSize - 8), headerLength <= 100_000_000 else {
            throw MiniLMError(.invalidModelFile, path: path, "safetensors header length \(headerLength) does not fit a \(fileSize)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = fileSize - dataStart
        let json = Data(bytes: base + 8, count: Int(headerLength))
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: json)
        } catch {
            throw MiniLMError(.invalidModelFile, path: path, "safetensors header is not valid JSON: \(error)")
        }
        var result: [String: TensorInfo] = [:]
        var extents: [(begin: Int, end: Int, name: String)] = []
        for (name, entry) in header.entries {
            guard let elementSize = elementSizes[entry.dtype] else {
                throw MiniLMError(.invalidModelFile, path: path, "tensor '\(name)' has unknown dtype \(entry.dtype)")
            }
            guard entry.data_offsets.count == 2 else {
                throw MiniLMError(.invalidModelFile, path: path, "tensor '\(name)' needs two data_offsets")
            }
            let begin = entry.data_offsets[0], end = entry.data_offsets[1]
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw MiniLMError(
                    .invalidModelFile, path: path,
                    "tensor '\(name)' spans bytes \(begin)..<\(end) but the data section has \(dataLength) bytes (file truncated?)")
            }
            var elements = 1
            for dim in entry.shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard dim >= 0, !overflow else {
                    throw MiniLMError(.invalidModelFile, path: path, "tensor '\(name)' has invalid shape \(entry.shape)")
                }
                elements = product
            }
            guard elements.multipliedReportingOverflow(by: elementSize) == (end - begin, false) else {
                throw MiniLMError(
                    .invalidModelFile, path: path,
                    "tensor '\(name)' shape \(entry.shape) × \(elementSize) bytes does not match its \(end - begin) data bytes")
            }
            result[name] = TensorInfo(dtype: entry.dtype, shape: entry.shape, fileOffset: dataStart + begin, byteCount: end - begin)
            extents.append((begin, end, name))
        }
        extents.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(extents, extents.dropFirst()) where next.begin < previous.end {
            throw MiniLMError(.invalidModelFile, path: path, "tensors '\(previous.name)' and '\(next.name)' overlap")
        }
        return result
    }
}
