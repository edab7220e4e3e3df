/// Element-wise and row-wise kernels of the encoder, over raw pointers. Every function touches only
/// the memory it is given, so callers may run them on disjoint rows from several threads.
///
/// Written as plain scalar loops on purpose: in release builds LLVM vectorises them (selects become
/// `maxps`/`minps`, the bit tricks become integer vector ops, reductions use several accumulators),
/// while debug builds — which the test suite runs — stay within a small factor of release, unlike
/// generic `SIMD` types, which are lane-by-lane function calls without optimisation. No fused
/// multiply-add: the package targets baseline x86-64, where FMA would be a library call.
enum MathKernels {
    // MARK: - exp and GELU

    /// e^x for x ≤ 88 (inputs below −87 are clamped to −87); relative error below 3e-7. Both callers
    /// pass x ≤ 0 (softmax after subtracting the row maximum, GELU's e^(−z²)).
    ///
    /// x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split into a part exact in float and a remainder); e^r by a
    /// degree-5 polynomial fitted for this code (near-minimax, relative error 7.5e-8 before float
    /// rounding); 2^n written into the exponent bits. n comes from adding 1.5·2^23, which leaves
    /// round(x/ln2) in the low mantissa bits — no rounding instruction.
    @inline(__always)
    static func exp(_ input: Float) -> Float {
        let x = input < -87 ? -87 : input
        let biased = x * 1.442_695_040_888_963_4 + 12_582_912
        let n = biased - 12_582_912
        let r = (x - n * 0.693_145_751_953_125) - n * 1.428_606_765_330_187_0e-6
        var p: Float = 0.008_297_654_800_117_016
        p = p * r + 0.041_915_383_189_916_61
        p = p * r + 0.166_675_746_440_887_45
        p = p * r + 0.499_988_943_338_394_17
        p = p * r + 0.999_999_701_976_776_1
        p = p * r + 1.000_000_119_209_289_6
        return p * Float(bitPattern: (biased.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
    }

    /// GELU with the exact normal CDF, x·Φ(x); absolute error below 1e-6 (relative for |x| > 1).
    ///
    /// With z = |x|/√2: Φ(−|x|) = ½·erfc(z) = ½·erfcx(z)·e^(−z²), and erfcx(z) = t·P(t) with
    /// t = 1/(1 + 0.55·z) and P a degree-9 polynomial least-squares fitted for this code (relative error
    /// of erfcx ≈ 2.3e-7 on z ∈ [0, 10]). Φ(x) is Φ(−|x|) for x < 0 and 1 − Φ(−|x|) otherwise, so the
    /// negative side has no cancellation.
    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        let z = x.magnitude * 0.707_106_781_186_547_5
        let t = 1 / (1 + 0.55 * z)
        var p: Float = 0.058_401_484_040_606_02
        p = p * t - 0.338_544_726_371_765_14
        p = p * t + 0.785_581_171_512_603_8
        p = p * t - 0.859_040_856_361_389_2
        p = p * t + 0.368_457_943_201_065_06
        p = p * t - 0.097_299_106_419_086_46
        p = p * t + 0.202_802_866_697_311_4
        p = p * t + 0.258_669_793_605_804_44
        p = p * t + 0.310_680_121_183_395_4
        p = p * t + 0.310_291_320_085_525_5
        let tail = 0.5 * t * p * exp(-(z * z))
        return x * (x < 0 ? tail : 1 - tail)
    }

    // MARK: - Row kernels

    /// A `rows × width` block with row stride `stride`: adds `bias` to every row, then GELU if asked.
    static func addBias(
        _ data: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int,
        bias: UnsafePointer<Float>, gelu applyGELU: Bool
    ) {
        var row = 0
        while row < rows {
            let line = data + row * stride
            var column = 0
            if applyGELU {
                while column < width {
                    line[column] = gelu(line[column] + bias[column])
                    column += 1
                }
            } else {
                while column < width {
                    line[column] += bias[column]
                    column += 1
                }
            }
            row += 1
        }
    }

    /// The unnormalised half of a softmax, in place: each of `rows` rows of `count` values (row stride
    /// `stride`) becomes `exp(x − max(row))`, and `inverseSums[row]` receives 1 / Σ of that row. The
    /// caller applies the scale to the (much smaller) product with the values instead of to the scores.
    static func exponentiateRows(
        _ data: UnsafeMutablePointer<Float>, rows: Int, count: Int, stride: Int, inverseSums: UnsafeMutablePointer<Float>
    ) {
        var row = 0
        while row < rows {
            let line = data + row * stride
            let maximum = maximum(line, count: count)
            var sums: (Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0)
            var column = 0
            while column + 8 <= count {
                let v0 = exp(line[column] - maximum), v1 = exp(line[column + 1] - maximum)
                let v2 = exp(line[column + 2] - maximum), v3 = exp(line[column + 3] - maximum)
                let v4 = exp(line[column + 4] - maximum), v5 = exp(line[column + 5] - maximum)
                let v6 = exp(line[column + 6] - maximum), v7 = exp(line[column + 7] - maximum)
                line[column] = v0; line[column + 1] = v1; line[column + 2] = v2; line[column + 3] = v3
                line[column + 4] = v4; line[column + 5] = v5; line[column + 6] = v6; line[column + 7] = v7
                sums.0 += v0; sums.1 += v1; sums.2 += v2; sums.3 += v3
                sums.4 += v4; sums.5 += v5; sums.6 += v6; sums.7 += v7
                column += 8
            }
            var total = ((sums.0 + sums.4) + (sums.1 + sums.5)) + ((sums.2 + sums.6) + (sums.3 + sums.7))
            while column < count {
                let value = exp(line[column] - maximum)
                line[column] = value
                total += value
                column += 1
            }
            inverseSums[row] = 1 / total
            row += 1
        }
    }

    /// Multiplies each of `rows` rows of `width` values (row stride `stride`) by `scales[row]`.
    static func scaleRows(_ data: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int, scales: UnsafePointer<Float>) {
        var row = 0
        while row < rows {
            let line = data + row * stride
            let scale = scales[row]
            var column = 0
            while column < width {
                line[column] *= scale
                column += 1
            }
            row += 1
        }
    }

    /// The largest of `count` (≥ 1) values.
    @inline(__always)
    static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var m: (Float, Float, Float, Float) = (values[0], values[0], values[0], values[0])
        var index = 0
        while index + 4 <= count {
            m.0 = values[index] > m.0 ? values[index] : m.0
            m.1 = values[index + 1] > m.1 ? values[index + 1] : m.1
            m.2 = values[index + 2] > m.2 ? values[index + 2] : m.2
            m.3 = values[index + 3] > m.3 ? values[index + 3] : m.3
            index += 4
        }
        while index < count {
            m.0 = values[index] > m.0 ? values[index] : m.0
            index += 1
        }
        let a = m.0 > m.1 ? m.0 : m.1, b = m.2 > m.3 ? m.2 : m.3
        return a > b ? a : b
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
        var row = 0
        while row < rows {
            let line = residual + row * width
            var column = 0
            if let input {
                let source = input + row * width
                if let bias {
                    while column < width {
                        line[column] += source[column] + bias[column]
                        column += 1
                    }
                } else {
                    while column < width {
                        line[column] += source[column]
                        column += 1
                    }
                }
            }
            let mean = sum(line, count: width) * inverseWidth
            var squares: (Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0)
            column = 0
            while column < width {
                let c0 = line[column] - mean, c1 = line[column + 1] - mean, c2 = line[column + 2] - mean
                let c3 = line[column + 3] - mean, c4 = line[column + 4] - mean, c5 = line[column + 5] - mean
                let c6 = line[column + 6] - mean, c7 = line[column + 7] - mean
                squares.0 += c0 * c0; squares.1 += c1 * c1; squares.2 += c2 * c2; squares.3 += c3 * c3
                squares.4 += c4 * c4; squares.5 += c5 * c5; squares.6 += c6 * c6; squares.7 += c7 * c7
                column += 8
            }
            let variance = (((squares.0 + squares.4) + (squares.1 + squares.5)) + ((squares.2 + squares.6) + (squares.3 + squares.7)))
                * inverseWidth
            let scale = 1 / (variance + epsilon).squareRoot()
            column = 0
            while column < width {
                line[column] = (line[column] - mean) * scale * gamma[column] + beta[column]
                column += 1
            }
            row += 1
        }
    }

    /// The sum of `count` (a multiple of 8) values, with eight interleaved accumulators.
    @inline(__always)
    static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var sums: (Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0)
        var index = 0
        while index < count {
            sums.0 += values[index]; sums.1 += values[index + 1]; sums.2 += values[index + 2]; sums.3 += values[index + 3]
            sums.4 += values[index + 4]; sums.5 += values[index + 5]; sums.6 += values[index + 6]; sums.7 += values[index + 7]
            index += 8
        }
        return ((sums.0 + sums.4) + (sums.1 + sums.5)) + ((sums.2 + sums.6) + (sums.3 + sums.7))
    }
}
