import GroveSynthesis

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

    /// Allocates the buffers; the output's bytes all start as `outputFill`.
    public init(_ collective: Collective, count: Int, type: DataType, rank: Int, worldSize: Int, inPlace: Bool, outputFill: UInt8 = 0) {
        let inCount = collective == .reduceScatter ? worldSize * count : count
        let outCount = collective == .allgather ? worldSize * count : count
        let bytes = max(inCount, outCount, 1) * type.size
        destination = .allocate(byteCount: bytes, alignment: 4096)
        destination.initializeMemory(as: UInt8.self, repeating: outputFill)
        if inPlace {
            storage = [destination]
            (input, output) = CallBuffers.inPlace(collective, buffer: destination.baseAddress!, count: count, elementSize: type.size, rank: rank)
        } else {
            let source = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 4096)
            storage = [destination, source]
            (input, output) = (source.baseAddress!, destination.baseAddress!)
        }
    }

    /// Sets every byte of the output's buffer (all of it, in place) to `byte`.
    public func resetOutput(to byte: UInt8) { destination.initializeMemory(as: UInt8.self, repeating: byte) }

    deinit { for b in storage { b.deallocate() } }
}
