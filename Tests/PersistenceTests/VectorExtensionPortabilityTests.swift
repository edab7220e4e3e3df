import Foundation
import Persistence
import TestSupport
import Testing

/// The Postgres these tests run against must run on every x86-64-v3 machine (AVX2, FMA), and the machine
/// that builds and tests may have AVX-512 while users' machines have not: a `vector.so` compiled with
/// `-march=native` on an AVX-512 host passes every functional test here and dies with SIGILL elsewhere.
/// So the test reads the machine code: the `vector.so` the server loads may use AVX-512 registers only in
/// pgvector's functions named `…Avx512…`, which pgvector calls after checking the CPU (today
/// BitHammingDistanceAvx512Popcount and BitJaccardDistanceAvx512Popcount). Same for the `postgres` binary,
/// whose own AVX-512 functions are named `…_avx512` and are chosen at run time the same way.
@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(3)))
struct VectorExtensionPortabilityTests {
    @Test func theVectorExtensionInUseRunsAVX512CodeOnlyAfterACPUCheck() async throws {
        let libraryDirectory = try await Self.serverConfig("PKGLIBDIR")
        let library = libraryDirectory + "/vector.so"
        try #require(FileManager.default.fileExists(atPath: library), "the server's PKGLIBDIR has no vector.so: \(library)")

        let scan = try await AVX512Scan(disassemblyOf: library, checkedFunction: { $0.contains("Avx512") })
        // The disassembly has symbols and the scan understood it: pgvector's distance functions are there.
        #expect(scan.functions.isSuperset(of: ["l2_distance", "cosine_distance", "vector_negative_inner_product"]),
                "objdump of \(library) shows \(scan.functions.count) functions, not pgvector's distance functions")
        // The scan recognises AVX-512 code: the functions named Avx512 that pgvector has do use it.
        let namedAVX512 = scan.functions.filter { $0.contains("Avx512") }
        #expect(namedAVX512.isSubset(of: scan.functionsUsingAVX512),
                "functions named Avx512 without AVX-512 registers in the scan: \(namedAVX512.subtracting(scan.functionsUsingAVX512).sorted())")
        #expect(scan.unchecked.isEmpty, """
            \(library) runs AVX-512 instructions outside pgvector's CPU-checked *Avx512* functions, so the \
            server dies with SIGILL on CPUs without AVX-512 (it was built with -march=native on an AVX-512 \
            host?). Functions: \(scan.unchecked.sorted().joined(separator: ", ")). First instructions: \
            \(scan.examples.joined(separator: " | "))
            """)
    }

    @Test func thePostgresServerInUseRunsAVX512CodeOnlyAfterACPUCheck() async throws {
        let server = try await Self.serverConfig("BINDIR") + "/postgres"
        try #require(FileManager.default.isExecutableFile(atPath: server), "the server's BINDIR has no postgres: \(server)")

        let scan = try await AVX512Scan(disassemblyOf: server, checkedFunction: { $0.lowercased().contains("avx512") })
        #expect(scan.functions.isSuperset(of: ["PostmasterMain", "PostgresMain"]),
                "objdump of \(server) shows \(scan.functions.count) functions, not Postgres's own")
        #expect(scan.unchecked.isEmpty, """
            \(server) runs AVX-512 instructions outside its CPU-checked *avx512* functions, so it dies with \
            SIGILL on CPUs without AVX-512. Functions: \(scan.unchecked.sorted().joined(separator: ", ")). \
            First instructions: \(scan.examples.joined(separator: " | "))
            """)
    }

    /// A row of the `pg_config` view (superusers only; `make test`'s user `rag` is one): where the running
    /// server's binaries and libraries are, whatever copy of them it is.
    static func serverConfig(_ name: String) async throws -> String {
        try await TestDatabase.withConnection { connection in
            try await connection.query("SELECT setting FROM pg_config WHERE name = $1", name).singleValue(String.self)
        }
    }
}

/// The scan itself, on objdump text written by hand: it must flag what it is meant to flag.
@Suite struct AVX512ScanTests {
    static let disassembly = """

        vector.so:     file format elf64-x86-64


        Disassembly of section .text:

        0000000000009a70 <BitHammingDistanceAvx512Popcount>:
            9a70:\tcmp    $0x3f,%edi
            9aa0:\tvmovdqu64 (%rsi,%rax,1),%zmm0
            9ab2:\tvpopcntq %zmm0,%zmm0

        0000000000009b20 <l2_distance>:
            9b20:\tvmovups (%rdi),%ymm0
            9b24:\tvfmadd231ps %ymm1,%ymm1,%ymm0
            9b28:\tcall   9a70 <BitHammingDistanceAvx512Popcount>

        0000000000009c00 <vector_add>:
            9c00:\tvaddps %zmm1,%zmm2,%zmm3{%k1}

        0000000000009d00 <halfvec_add>:
            9d00:\tvaddps %ymm17,%ymm2,%ymm3

        0000000000009e00 <zmm_regs_available>:
            9e00:\txgetbv
            9e03:\tand    $0xe6,%eax

        0000000000009e80 <mask_ops>:
            9e80:\tkmovw  %k2,%eax

        0000000000009f00 <uses_xmm1_and_ymm15>:
            9f00:\tvaddps %xmm1,%xmm15,%xmm2
            9f04:\tvaddps %ymm15,%ymm14,%ymm13
        """

    @Test func flagsAVX512RegistersOutsideTheCheckedFunctionsOnly() {
        let scan = AVX512Scan(objdump: Self.disassembly, checkedFunction: { $0.contains("Avx512") })
        #expect(scan.functions == ["BitHammingDistanceAvx512Popcount", "l2_distance", "vector_add", "halfvec_add",
                                   "zmm_regs_available", "mask_ops", "uses_xmm1_and_ymm15"])
        #expect(scan.functionsUsingAVX512 == ["BitHammingDistanceAvx512Popcount", "vector_add", "halfvec_add", "mask_ops"])
        // zmm, an opmask register, ymm16-31: flagged; a call naming an Avx512 function or a function
        // named zmm… is not an instruction using them; xmm/ymm0-15 are AVX2.
        #expect(scan.unchecked == ["vector_add", "halfvec_add", "mask_ops"])
        #expect(scan.examples.first == "vector_add: vaddps %zmm1,%zmm2,%zmm3{%k1}")
    }
}
