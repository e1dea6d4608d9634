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

/// Runs a command body; user errors, and any library error that escaped without a file name,
/// become one line on stderr and exit status 2. Exit codes pass through.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as UserError {
        Console.error(e.description)
        throw ExitCode(2)
    } catch {
        Console.error("\(error)")
        throw ExitCode(2)
    }
}

/// Reads and validates a topology file; warnings go to stderr.
func loadFabric(_ path: String) throws -> Fabric { try loadTopology(path).fabric }

/// Reads and validates a topology file; warnings and the rounding note go to stderr, and a flood
/// of problems (a generated file with thousands of bad names) is cut to its first lines and a count.
func loadTopology(_ path: String) throws -> TopologyFile.Parsed {
    if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, let problem = TopologyFile.sizeProblem(bytes: size) {
        throw UserError("\(path): \(problem)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw UserError("\(path): is a directory; give a topology file")
        }
        throw UserError("\(path): cannot read the file (does it exist?)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw UserError("\(path): not UTF-8 text; a topology file is JSON")
    }
    do {
        let parsed = try TopologyFile.parse(text)
        for line in capped(parsed.warnings.map(\.description)) { Console.note("grove: warning: \(path): \(line)") }
        if let first = parsed.roundedLinks.first {
            Console.note("grove: note: \(path): \(parsed.roundedLinks.count) bandwidth(s) rounded to Grove's 1 kB/s resolution "
                + "(first: \(first)); the bound is exact for the rounded fabric")
        }
        return parsed
    } catch {
        switch error {
        case .syntax(let e): throw UserError("\(path):\(e.position.line):\(e.position.column): \(e.message)")
        case .invalid(let problems): throw UserError(capped(problems.map { "\(path): \($0)" }).joined(separator: "\ngrove: "))
        case .unreadable(let m): throw UserError("\(path): \(m)")
        }
    }
}

/// The first `limit` diagnostics and, if there are more, one line counting the rest.
func capped(_ lines: [String], limit: Int = 20) -> [String] {
    lines.count <= limit ? lines : Array(lines.prefix(limit)) + ["… and \(lines.count - limit) more like these"]
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
