import Foundation
import GroveSchedule
import GroveSynthesis
import GroveTopology

/// A schedule file in Grove JSON or MSCCL XML, structurally checked.
func loadSchedule(_ path: String) throws -> Schedule {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UserError("\(path): cannot read the file (does it exist, and is it a file?)")
    }
    guard let text = String(data: data, encoding: .utf8) else { throw UserError("\(path): not UTF-8 text; a schedule is JSON or MSCCL XML") }
    do { return try Schedule.read(text) } catch { throw UserError("\(path):\(error.description)") }
}
