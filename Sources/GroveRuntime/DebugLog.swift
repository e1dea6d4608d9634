import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The debug log, in the spirit of `NCCL_DEBUG`: `GROVE_DEBUG=WARN|INFO|TRACE` (unset: nothing)
/// writes lines to stderr as `host:pid:rank R grove LEVEL message`, so that the lines of many
/// ranks merged by a launcher still say where each came from. INFO tells the rendezvous steps,
/// the plan chosen for each call shape and why, the connections made, and what a waiting rank
/// waits for (every few seconds); TRACE adds every call.
public enum DebugLog {
    /// The level `GROVE_DEBUG` names; nil for a value that names none.
    public static func level(_ value: String?) -> Logger.Level? {
        switch value?.uppercased() {
        // Unset: quiet, since every error already reaches the caller as one thrown sentence.
        case nil, "", "NONE", "ERROR", "VERSION": return .error
        case "WARN", "WARNING": return .warning
        case "INFO": return .info
        case "TRACE": return .trace
        default: return nil
        }
    }

    /// A logger for `rank` at `level`, by default the level of `GROVE_DEBUG` in this process.
    public static func logger(rank: Int?, level: Logger.Level? = nil) -> Logger {
        var l = Logger(label: "grove") { _ in Handler(rank: rank) }
        l.logLevel = level ?? DebugLog.level(ProcessInfo.processInfo.environment["GROVE_DEBUG"]) ?? .error
        return l
    }

    static let host: String = {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    struct Handler: LogHandler {
        var rank: Int?
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            let name = level == .warning ? "WARN" : level.rawValue.uppercased()
            let who = "\(DebugLog.host):\(getpid())" + (rank.map { ":rank \($0)" } ?? "")
            FileHandle.standardError.write(Data("\(who) grove \(name) \(message)\n".utf8))
        }
    }
}
