import Foundation

/// Which functions of an x86-64 ELF file use AVX-512 registers, from `objdump -d --no-show-raw-insn` (AT&T
/// syntax): zmm0-31, the opmask registers k0-k7, xmm16-31 and ymm16-31 exist only with AVX-512 (EVEX).
public struct AVX512Scan {
    /// Every function in the disassembly.
    public private(set) var functions: Set<String> = []
    /// The functions with at least one instruction using an AVX-512 register.
    public private(set) var functionsUsingAVX512: Set<String> = []
    /// Those of them that are not CPU-checked (by name).
    public private(set) var unchecked: Set<String> = []
    /// Up to five offending instructions, `function: instruction`.
    public private(set) var examples: [String] = []

    public struct ObjdumpFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs objdump (binutils, installed by `make deps`) on `path`, off the cooperative pool. grep keeps only
    /// the function headers and the lines naming a candidate register, so the scan here stays small (the
    /// `postgres` binary disassembles to ~50 MB of text).
    public init(disassemblyOf path: String, checkedFunction: (String) -> Bool) async throws {
        let pipeline = #"set -o pipefail; objdump -d --no-show-raw-insn "$1" | grep -E '^[0-9a-f]+ <.*>:$|%(zmm|k[0-7]|[xy]mm[123])'"#
        let result: ProcessRunner.Result
        do {
            result = try await ProcessRunner.run("/bin/bash", ["-c", pipeline, "objdump-scan", path])
        } catch {
            throw ObjdumpFailed(description: "could not run objdump (binutils; `make deps` installs it): \(error)")
        }
        guard result.status == 0 else {
            throw ObjdumpFailed(description: "objdump -d \(path) | grep failed with status \(result.status) (binutils missing? `make deps` installs it): \(result.errors)")
        }
        self.init(objdump: result.text, checkedFunction: checkedFunction)
    }

    public init(objdump text: String, checkedFunction: (String) -> Bool) {
        // `0000000000009a70 <name>:` starts a function; instructions follow as `  9a70:<tab>mnemonic operands`.
        let header = /^[0-9a-f]+ <(.+)>:$/
        let avx512Register = /%(zmm[0-9]|k[0-7](?![0-9])|[xy]mm(1[6-9]|2[0-9]|3[01])(?![0-9]))/
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if let match = line.wholeMatch(of: header) {
                current = String(match.1)
                functions.insert(String(match.1))
                continue
            }
            guard let function = current, line.contains("%"), let tab = line.firstIndex(of: "\t") else { continue }
            let instruction = line[line.index(after: tab)...]
            guard instruction.contains(avx512Register) else { continue }
            functionsUsingAVX512.insert(function)
            if !checkedFunction(function) {
                unchecked.insert(function)
                if examples.count < 5 { examples.append("\(function): \(instruction.trimmingCharacters(in: .whitespaces))") }
            }
        }
    }
}
