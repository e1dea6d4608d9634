import GroveSynthesis
#if canImport(Glibc)
import Glibc
#endif

/// Memory for one collective call, laid out with NCCL's conventions: in place, an allgather's
/// input is this rank's block of the output, and a reduce-scatter's output is this rank's block of
/// the input. Used by the benchmark and the tests, which fill `input` and check `output`.
public final class CallBuffers {
    public let input: UnsafeMutableRawPointer
    public let output: UnsafeMutableRawPointer
    private let storage: [UnsafeMutableRawBufferPointer]
    private let destination: UnsafeMutableRawBufferPointer

    /// Input and output pointers of an in-place call on `buffer` (the larger of the two buffers).
    public static func inPlace(_ collective: Collective, buffer: UnsafeMutableRawPointer, count: Int, elementSize: Int,
                               rank: Int) -> (input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer) {
        let block = buffer + rank * count * elementSize
        switch collective {
        case .allgather: return (block, buffer)
        case .reduceScatter: return (buffer, block)
        case .allreduce, .broadcast, .reduce: return (buffer, buffer)
        }
    }

    /// Allocates the buffers; the output's bytes all start as `outputFill`. Memory that cannot
    /// be had (a size beyond RAM or a limit) is an error that says how much, not a crash.
    public init(_ collective: Collective, count: Int, type: DataType, rank: Int, worldSize: Int, inPlace: Bool,
                outputFill: UInt8 = 0) throws(CommunicatorError) {
        let inCount = collective == .reduceScatter ? worldSize.multipliedReportingOverflow(by: count) : (count, false)
        let outCount = collective == .allgather ? worldSize.multipliedReportingOverflow(by: count) : (count, false)
        let (bytes, overflow) = max(inCount.0, outCount.0, 1).multipliedReportingOverflow(by: type.size)
        guard !inCount.1, !outCount.1, !overflow else { throw .invalidArgument("rank \(rank): \(count) elements per rank do not fit in memory") }
        func allocate() throws(CommunicatorError) -> UnsafeMutableRawBufferPointer {
            var p: UnsafeMutableRawPointer?
            guard posix_memalign(&p, 4096, bytes) == 0, let p else {
                throw .invalidArgument("rank \(rank): cannot allocate \(bytes) bytes for a \(collective.rawValue) of \(count) elements: \(errnoText(ENOMEM))")
            }
            return UnsafeMutableRawBufferPointer(start: p, count: bytes)
        }
        destination = try allocate()
        destination.initializeMemory(as: UInt8.self, repeating: outputFill)
        if inPlace {
            storage = [destination]
            (input, output) = CallBuffers.inPlace(collective, buffer: destination.baseAddress!, count: count, elementSize: type.size, rank: rank)
        } else {
            let source: UnsafeMutableRawBufferPointer
            do { source = try allocate() } catch { free(destination.baseAddress); throw error }
            storage = [destination, source]
            (input, output) = (source.baseAddress!, destination.baseAddress!)
        }
    }

    /// Sets every byte of the output's buffer (all of it, in place) to `byte`.
    public func resetOutput(to byte: UInt8) { destination.initializeMemory(as: UInt8.self, repeating: byte) }

    deinit { for b in storage { free(b.baseAddress) } }
}
