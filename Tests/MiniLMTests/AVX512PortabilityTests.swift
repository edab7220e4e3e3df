import Foundation
import TestSupport
import Testing

@testable import MiniLM

/// The encoder is built for x86-64-v3 (AVX2, FMA). Its AVX-512 kernels are C functions named `…_avx512` that run
/// only after `rag_cpu_has_avx512()`; the machine that builds and tests may have AVX-512 while users' machines
/// have not, so a stray AVX-512 instruction would pass every test here and die with SIGILL there. The test reads
/// the machine code of this test binary, which holds the MiniLM code and every library the workers link:
/// AVX-512 registers only in functions named avx512 (BoringSSL's CPU-checked ones are named the same way).
@Suite("MiniLM AVX-512 portability", .timeLimit(.minutes(3)))
struct AVX512PortabilityTests {
    @Test("the code uses AVX-512 registers only in functions that run after a CPU check")
    func avx512OnlyAfterACPUCheck() async throws {
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let scan = try await AVX512Scan(disassemblyOf: binary, checkedFunction: { $0.lowercased().contains("avx512") })
        // The scan understood the disassembly: the encoder's kernels are there, and its AVX-512 one uses AVX-512.
        #expect(scan.functions.contains("rag_multiply_transposed_avx512"), "objdump of \(binary) lacks the encoder's kernels")
        #expect(scan.functionsUsingAVX512.contains("rag_multiply_transposed_avx512"))
        #expect(scan.unchecked.isEmpty, """
            \(binary) runs AVX-512 instructions outside CPU-checked *avx512* functions, so it dies with SIGILL on \
            x86-64-v3 CPUs without AVX-512. Functions: \(scan.unchecked.sorted().joined(separator: ", ")). First \
            instructions: \(scan.examples.joined(separator: " | "))
            """)
    }
}
