import ArgumentParser
import Foundation
import GroveTopology

/// An error the user can fix; printed as one line `grove: …` and exit status 2.
struct UserError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Console {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data(("grove: " + line + "\n").utf8))
    }

    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Runs a command body; user errors become one line on stderr and exit status 2.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as UserError {
        Console.error(e.description)
        throw ExitCode(2)
    }
}

/// Reads and validates a topology file; warnings go to stderr.
func loadFabric(_ path: String) throws -> Fabric {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UserError("\(path): cannot read the file (does it exist?)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw UserError("\(path): not UTF-8 text; a topology file is JSON")
    }
    do {
        let parsed = try TopologyFile.parse(text)
        for w in parsed.warnings { Console.note("grove: warning: \(path): \(w)") }
        return parsed.fabric
    } catch {
        switch error {
        case .syntax(let e): throw UserError("\(path):\(e.position.line):\(e.position.column): \(e.message)")
        case .invalid(let problems): throw UserError(problems.map { "\(path): \($0)" }.joined(separator: "\ngrove: "))
        case .unreadable(let m): throw UserError("\(path): \(m)")
        }
    }
}

func writeOutput(_ text: String, to path: String?) throws {
    guard let path, path != "-" else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        throw UserError("\(path): cannot write (\(error.localizedDescription))")
    }
}

/// Progress lines on stderr, only once work has taken more than a second, at most one a second.
final class Progress: @unchecked Sendable {
    private let start = Date()
    private var last = Date.distantPast
    private let enabled: Bool
    init(enabled: Bool = true) { self.enabled = enabled }
    var elapsed: Double { Date().timeIntervalSince(start) }
    func report(_ line: String) {
        guard enabled, elapsed > 1, Date().timeIntervalSince(last) >= 1 else { return }
        last = Date()
        Console.note(String(format: "[%6.1fs] ", elapsed) + line)
    }
}

func gbps(_ r: Rational) -> String { String(format: "%.2f", r.doubleValue) }
