import Foundation
import GroveSchedule
import GroveSynthesis
import GroveTopology

func loadSchedule(_ path: String) throws -> Schedule {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw UserError("\(path): cannot read the file (does it exist?)")
    }
    do { return try ScheduleFile.read(text) } catch { throw UserError("\(path):\(error.description)") }
}
