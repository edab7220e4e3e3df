import Foundation
import Testing

@testable import MiniLM

/// The fast exp, GELU and softmax against double-precision libm.
@Suite("MiniLM math kernels")
struct MathKernelsTests {
    static func samples(from low: Double, to high: Double, count: Int) -> [Float] {
        (0..<count).map { Float(low + (high - low) * Double($0) / Double(count - 1)) }
    }

    static func apply(_ kernel: (Float) -> Float, to inputs: [Float]) -> [Float] {
        inputs.map(kernel)
    }

    @Test("exp has relative error below 1e-6 on [-87, 88]", .timeLimit(.minutes(1)))
    func exponential() {
        let inputs = Self.samples(from: -87, to: 88, count: 200_001)
        var worst = (error: 0.0, x: Float(0))
        for (x, y) in zip(inputs, Self.apply(MathKernels.exp, to: inputs)) {
            let reference = Foundation.exp(Double(x))
            let error = abs(Double(y) - reference) / reference
            if error > worst.error { worst = (error, x) }
        }
        #expect(worst.error <= 1e-6, "relative error \(worst.error) at x = \(worst.x)")
    }

    @Test("GELU matches x·Φ(x) with the exact erf within 1e-6", .timeLimit(.minutes(1)))
    func gelu() {
        let inputs = Self.samples(from: -20, to: 20, count: 400_001) + [0, -0.0, 1e-30, -1e-30, 1e4, -1e4]
        var worst = (error: 0.0, x: Float(0))
        for (x, y) in zip(inputs, Self.apply(MathKernels.gelu, to: inputs)) {
            let reference = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            let error = abs(Double(y) - reference) / max(1, abs(reference))
            if error > worst.error || y.isNaN { worst = (y.isNaN ? .infinity : error, x) }
        }
        #expect(worst.error <= 1e-6, "error \(worst.error) at x = \(worst.x)")
    }

    @Test("softmax (exponentiated rows × inverse sums) matches, including lengths that are not multiples of 8", .timeLimit(.minutes(1)))
    func softmax() {
        for count in [1, 2, 15, 16, 17, 33, 255] {
            var row = (0..<count).map { Float(($0 * 37) % 11) - 5 }
            let reference = row.map { Foundation.exp(Double($0)) }
            let total = reference.reduce(0, +)
            var inverseSum: Float = 0
            row.withUnsafeMutableBufferPointer { MathKernels.exponentiateRows($0.baseAddress!, rows: 1, count: count, stride: count, inverseSums: &inverseSum) }
            row = row.map { $0 * inverseSum }
            for (value, expected) in zip(row, reference) {
                #expect(abs(Double(value) - expected / total) < 1e-6, "count \(count)")
            }
        }
    }

    /// Both few-rows products — AVX2 and, on a CPU that has it, AVX-512 — against a double-precision product:
    /// row counts around the 2- and 4-row tiles, column counts around the 4-column tiles, weights contiguous
    /// (prefetched) and strided (the attention's keys).
    @Test("the few-rows matrix product matches in AVX2 and AVX-512, for every tile remainder", .timeLimit(.minutes(1)))
    func fewRowsProduct() {
        var generator = SystemRandomNumberGenerator()
        let kernels = [false] + (MathKernels.avx512 ? [true] : [])
        for (depth, ldb) in [(384, 384), (32, 96), (1536, 1536)] {
            for rows in [1, 2, 3, 4, 5, 7, 13, 24] {
                for columns in [1, 3, 4, 6, 9, 64] {
                    let a = (0..<(rows * depth)).map { _ in Float.random(in: -1...1, using: &generator) }
                    let b = (0..<(columns * ldb)).map { _ in Float.random(in: -1...1, using: &generator) }
                    for useAVX512 in kernels {
                        var c = [Float](repeating: .nan, count: rows * columns)
                        a.withUnsafeBufferPointer { a in
                            b.withUnsafeBufferPointer { b in
                                MathKernels.multiplyTransposed(
                                    rows: rows, columns: columns, depth: depth, alpha: 0.5, a: a.baseAddress!, lda: depth,
                                    b: b.baseAddress!, ldb: ldb, c: &c, ldc: columns, useAVX512: useAVX512)
                            }
                        }
                        var worst = 0.0
                        for row in 0..<rows {
                            for column in 0..<columns {
                                var sum = 0.0
                                for k in 0..<depth { sum += Double(a[row * depth + k]) * Double(b[column * ldb + k]) }
                                worst = max(worst, abs(Double(c[row * columns + column]) - 0.5 * sum))
                            }
                        }
                        #expect(worst < 1e-4, "AVX-512 \(useAVX512), \(rows) × \(columns), depth \(depth): error \(worst)")
                    }
                }
            }
        }
    }
}
