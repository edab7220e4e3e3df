/// Element-wise and row-wise kernels of the encoder, over raw pointers. Every function touches only
/// the memory it is given, so callers may run them on disjoint rows from several threads.
///
/// Written with `SIMD8<Float>`: one AVX2 register of eight lanes, with fused multiply-add, since the
/// MiniLM target is compiled for x86-64-v3 and optimised in every configuration (see Package.swift).
/// Widths of rows are multiples of 8 (384, 1536 and the 64-column blocks of the column split); only
/// the softmax, whose rows are as long as a sequence, has a tail.
import CMiniLM
import Foundation

enum MathKernels {
    typealias Vector = SIMD8<Float>

    // MARK: - exp and GELU

    /// a·b + c, rounded once.
    @inline(__always)
    static func fma(_ a: Vector, _ b: Vector, _ c: Float) -> Vector {
        Vector(repeating: c).addingProduct(a, b)
    }

    @inline(__always)
    static func fma(_ a: Vector, _ b: Float, _ c: Float) -> Vector {
        Vector(repeating: c).addingProduct(a, Vector(repeating: b))
    }

    /// e^x for x ≤ 88 (inputs below −87 are clamped to −87); relative error below 3e-7. Both callers
    /// pass x ≤ 0 (softmax after subtracting the row maximum, GELU's e^(−z²)).
    ///
    /// x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split into a part exact in float and a remainder); e^r by a
    /// degree-5 polynomial fitted for this code (near-minimax, relative error 7.5e-8 before float
    /// rounding); 2^n written into the exponent bits. n comes from adding 1.5·2^23, which leaves
    /// round(x/ln2) in the low mantissa bits — no rounding instruction.
    @inline(__always)
    static func exp(_ input: Vector) -> Vector {
        let x = input.replacing(with: -87, where: input .< -87)
        let biased = fma(x, 1.442_695_040_888_963_4, 12_582_912)
        let n = biased - 12_582_912
        let r = x.addingProduct(n, -0.693_145_751_953_125).addingProduct(n, -1.428_606_765_330_187_0e-6)  // x − n·ln2
        var p = Vector(repeating: 0.008_297_654_800_117_016)
        p = fma(p, r, 0.041_915_383_189_916_61)
        p = fma(p, r, 0.166_675_746_440_887_45)
        p = fma(p, r, 0.499_988_943_338_394_17)
        p = fma(p, r, 0.999_999_701_976_776_1)
        p = fma(p, r, 1.000_000_119_209_289_6)
        let exponent = unsafeBitCast(biased, to: SIMD8<Int32>.self) &- (0x4B40_0000 - 127)
        return p * unsafeBitCast(exponent &<< 23, to: Vector.self)
    }

    /// The scalar e^x, for tests: lane 0 of the vector version.
    static func exp(_ x: Float) -> Float { exp(Vector(repeating: x))[0] }

    /// GELU with the exact normal CDF, x·Φ(x); absolute error below 1e-6 (relative for |x| > 1).
    ///
    /// With z = |x|/√2: Φ(−|x|) = ½·erfc(z) = ½·erfcx(z)·e^(−z²), and erfcx(z) = t·P(t) with
    /// t = 1/(1 + 0.55·z) and P a degree-9 polynomial least-squares fitted for this code (relative error
    /// of erfcx ≈ 2.3e-7 on z ∈ [0, 10]). Φ(x) is Φ(−|x|) for x < 0 and 1 − Φ(−|x|) otherwise, so the
    /// negative side has no cancellation.
    @inline(__always)
    static func gelu(_ x: Vector) -> Vector {
        let z: Vector = x.replacing(with: -x, where: x .< 0) * 0.707_106_781_186_547_5
        let t = 1 / fma(z, 0.55, 1)
        var p = Vector(repeating: 0.058_401_484_040_606_02)
        p = fma(p, t, -0.338_544_726_371_765_14)
        p = fma(p, t, 0.785_581_171_512_603_8)
        p = fma(p, t, -0.859_040_856_361_389_2)
        p = fma(p, t, 0.368_457_943_201_065_06)
        p = fma(p, t, -0.097_299_106_419_086_46)
        p = fma(p, t, 0.202_802_866_697_311_4)
        p = fma(p, t, 0.258_669_793_605_804_44)
        p = fma(p, t, 0.310_680_121_183_395_4)
        p = fma(p, t, 0.310_291_320_085_525_5)
        let tail: Vector = t * p * exp(-(z * z)) * 0.5
        let cdf: Vector = (1 - tail).replacing(with: tail, where: x .< 0)
        return x * cdf
    }

    /// The scalar GELU, for tests: lane 0 of the vector version.
    static func gelu(_ x: Float) -> Float { gelu(Vector(repeating: x))[0] }

    // MARK: - Loads and stores

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    @inline(__always)
    static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    // MARK: - Row kernels

    /// A `rows × width` block (`width` a multiple of 8) with row stride `stride`: adds `bias` to every
    /// row, then GELU if asked.
    static func addBias(
        _ data: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int,
        bias: UnsafePointer<Float>, gelu applyGELU: Bool
    ) {
        precondition(width % 8 == 0, "width must be a multiple of 8")
        for row in 0..<rows {
            let line = data + row * stride
            for column in Swift.stride(from: 0, to: width, by: 8) {
                let value = load(line + column) + load(bias + column)
                store(applyGELU ? gelu(value) : value, line + column)
            }
        }
    }

    /// The unnormalised half of a softmax, in place: each of `rows` rows of `count` values (row stride
    /// `stride`) becomes `exp(x − max(row))`, and `inverseSums[row]` receives 1 / Σ of that row. The
    /// caller applies the scale to the (much smaller) product with the values instead of to the scores.
    static func exponentiateRows(
        _ data: UnsafeMutablePointer<Float>, rows: Int, count: Int, stride: Int, inverseSums: UnsafeMutablePointer<Float>
    ) {
        let whole = count & ~7
        for row in 0..<rows {
            let line = data + row * stride
            let maximum = maximum(line, count: count)
            var sums = Vector()
            for column in Swift.stride(from: 0, to: whole, by: 8) {
                let value = exp(load(line + column) - maximum)
                store(value, line + column)
                sums += value
            }
            var total = sums.sum()
            if whole < count {
                var tail = Vector(repeating: -.infinity)
                for lane in 0..<(count - whole) { tail[lane] = line[whole + lane] }
                let value = exp(tail - maximum)
                for lane in 0..<(count - whole) {
                    line[whole + lane] = value[lane]
                    total += value[lane]
                }
            }
            inverseSums[row] = 1 / total
        }
    }

    /// Multiplies each of `rows` rows of `width` values (a multiple of 8; row stride `stride`) by `scales[row]`.
    static func scaleRows(_ data: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int, scales: UnsafePointer<Float>) {
        precondition(width % 8 == 0, "width must be a multiple of 8")
        for row in 0..<rows {
            let line = data + row * stride
            for column in Swift.stride(from: 0, to: width, by: 8) {
                store(load(line + column) * scales[row], line + column)
            }
        }
    }

    /// The largest of `count` (≥ 1) values.
    @inline(__always)
    static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = Vector(repeating: values[0])
        var index = 0
        while index + 8 <= count {
            let next = load(values + index)
            lanes = lanes.replacing(with: next, where: next .> lanes)
            index += 8
        }
        var result = values[0]
        for lane in 0..<8 { result = Swift.max(result, lanes[lane]) }
        while index < count {
            result = Swift.max(result, values[index])
            index += 1
        }
        return result
    }

    /// For each of `rows` contiguous rows of `width` (a multiple of 8):
    /// `residual = LayerNorm(input + bias + residual) · gamma + beta` (biased variance, `epsilon`).
    /// `input` and `bias` may be nil (plain LayerNorm of `residual`).
    static func addResidualLayerNorm(
        input: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, residual: UnsafeMutablePointer<Float>,
        rows: Int, width: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        precondition(width % 8 == 0, "hidden size must be a multiple of 8")
        let inverseWidth = 1 / Float(width)
        for row in 0..<rows {
            let line = residual + row * width
            var sums = Vector()
            for column in Swift.stride(from: 0, to: width, by: 8) {
                var value = load(line + column)
                if let input { value += load(input + row * width + column) }
                if let bias { value += load(bias + column) }
                store(value, line + column)
                sums += value
            }
            let mean = sums.sum() * inverseWidth
            var squares = Vector()
            for column in Swift.stride(from: 0, to: width, by: 8) {
                let centred = load(line + column) - mean
                squares = squares.addingProduct(centred, centred)
            }
            let scale = 1 / (squares.sum() * inverseWidth + epsilon).squareRoot()
            for column in Swift.stride(from: 0, to: width, by: 8) {
                let normalised = (load(line + column) - mean) * scale
                store(load(beta + column).addingProduct(normalised, load(gamma + column)), line + column)
            }
        }
    }

    // MARK: - Matrix product for a few rows

    /// The environment variable that, set to `0`, keeps the AVX2 kernels on a CPU with AVX-512.
    static let avx512EnvironmentKey = "RAG_MINILM_AVX512"

    /// Whether ``multiplyTransposed`` may use its AVX-512 twin: the CPU and operating system support it and
    /// `RAG_MINILM_AVX512` is not `0`.
    static let avx512: Bool = rag_cpu_has_avx512() == 1
        && ProcessInfo.processInfo.environment[avx512EnvironmentKey] != "0"

    /// Row-major `c = alpha · a · bᵀ` for few rows, with `a` `rows × depth` (row stride `lda`), `b` `columns ×
    /// depth` (row stride `ldb`; a weight matrix in PyTorch layout) and `depth` a multiple of 8.
    ///
    /// For a handful of tokens a product is bound by reading the weights, and OpenBLAS would first copy
    /// them into its packed layout on every call. Here every weight row is read once, straight from the
    /// model file: tiles of 4 weight rows × 2 rows of `a`, eight dot products accumulated in eight lanes
    /// each (13 of the 16 AVX2 registers, none spilled) and summed at the end; an odd last row runs alone.
    /// A tile's missing columns repeat its last one and are not stored. The product is bound by memory, not arithmetic:
    /// prefetching the next tile while the current one is first read cut a 13-token query by a quarter.
    ///
    /// On a CPU with AVX-512 (checked at run time, ``avx512``) and `depth` a multiple of 16, the C twin of this
    /// kernel with 16-lane registers and 4 × 4 tiles runs instead: a query's few tokens are bound by
    /// arithmetic as much as by memory, and AVX-512 doubles it.
    static func multiplyTransposed(
        rows: Int, columns: Int, depth: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
        ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, useAVX512: Bool = avx512
    ) {
        precondition(depth % 8 == 0, "depth must be a multiple of 8")
        if useAVX512, depth % 16 == 0 {
            rag_multiply_transposed_avx512(
                Int32(rows), Int32(columns), Int32(depth), alpha, a, Int32(lda), b, Int32(ldb), c, Int32(ldc))
            return
        }
        var column = 0
        while column < columns {
            let b0 = b + column * ldb
            let b1 = b + min(column + 1, columns - 1) * ldb
            let b2 = b + min(column + 2, columns - 1) * ldb
            let b3 = b + min(column + 3, columns - 1) * ldb
            // While the first rows run, the next tile's weights (contiguous when ldb == depth) are prefetched.
            let next = b + (column + 4) * ldb
            let prefetch = ldb == depth && column + 8 <= columns
            let tileColumns = min(4, columns - column)
            var row = 0
            while row + 1 < rows {
                let a0 = a + row * lda, a1 = a0 + lda
                var s00 = Vector(), s01 = Vector(), s02 = Vector(), s03 = Vector()
                var s10 = Vector(), s11 = Vector(), s12 = Vector(), s13 = Vector()
                for k in Swift.stride(from: 0, to: depth, by: 8) {
                    if row == 0, prefetch {
                        rag_prefetch(next + 4 * k)
                        rag_prefetch(next + 4 * k + 16)
                    }
                    let w0 = load(b0 + k), w1 = load(b1 + k), w2 = load(b2 + k), w3 = load(b3 + k)
                    let x0 = load(a0 + k)
                    s00 = s00.addingProduct(x0, w0); s01 = s01.addingProduct(x0, w1)
                    s02 = s02.addingProduct(x0, w2); s03 = s03.addingProduct(x0, w3)
                    let x1 = load(a1 + k)
                    s10 = s10.addingProduct(x1, w0); s11 = s11.addingProduct(x1, w1)
                    s12 = s12.addingProduct(x1, w2); s13 = s13.addingProduct(x1, w3)
                }
                let line = c + row * ldc + column
                storeSums(s00, s01, s02, s03, count: tileColumns, alpha: alpha, into: line)
                storeSums(s10, s11, s12, s13, count: tileColumns, alpha: alpha, into: line + ldc)
                row += 2
            }
            if row < rows {  // an odd last row (or a single one: prefetch here too)
                let a0 = a + row * lda
                var s00 = Vector(), s01 = Vector(), s02 = Vector(), s03 = Vector()
                for k in Swift.stride(from: 0, to: depth, by: 8) {
                    if row == 0, prefetch {
                        rag_prefetch(next + 4 * k)
                        rag_prefetch(next + 4 * k + 16)
                    }
                    let x0 = load(a0 + k)
                    s00 = s00.addingProduct(x0, load(b0 + k)); s01 = s01.addingProduct(x0, load(b1 + k))
                    s02 = s02.addingProduct(x0, load(b2 + k)); s03 = s03.addingProduct(x0, load(b3 + k))
                }
                storeSums(s00, s01, s02, s03, count: tileColumns, alpha: alpha, into: c + row * ldc + column)
            }
            column += 4
        }
    }

    /// Stores `alpha` × the lane sums of the first `count` of four accumulators at `line[0..<count]`.
    @inline(__always)
    private static func storeSums(
        _ s0: Vector, _ s1: Vector, _ s2: Vector, _ s3: Vector, count: Int, alpha: Float, into line: UnsafeMutablePointer<Float>
    ) {
        line[0] = alpha * s0.sum()
        if count > 1 { line[1] = alpha * s1.sum() }
        if count > 2 { line[2] = alpha * s2.sum() }
        if count > 3 { line[3] = alpha * s3.sum() }
    }
}
