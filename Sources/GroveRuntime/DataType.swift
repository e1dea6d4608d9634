/// Element types a collective runs on, named as in nccl-tests.
public enum DataType: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case float32 = 1, float64, float16, bfloat16, int32, int64, uint8

    public var size: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .float16, .bfloat16: return 2
        case .uint8: return 1
        }
    }

    /// The name nccl-tests prints in its `type` column.
    public var ncclName: String {
        switch self {
        case .float32: return "float"
        case .float64: return "double"
        case .float16: return "half"
        case .bfloat16: return "bfloat16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        }
    }

    public var isFloatingPoint: Bool { ![.int32, .int64, .uint8].contains(self) }

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        }
    }

    /// Accepts Grove's names and nccl-tests' (`float`, `half`, `double`).
    public init?(name: String) {
        switch name.lowercased() {
        case "float32", "float", "f32": self = .float32
        case "float64", "double", "f64": self = .float64
        case "float16", "half", "f16": self = .float16
        case "bfloat16", "bf16": self = .bfloat16
        case "int32", "int": self = .int32
        case "int64": self = .int64
        case "uint8", "u8": self = .uint8
        default: return nil
        }
    }
}

/// Reductions, with NCCL's meaning: `avg` is the sum divided by the number of ranks (integer
/// division for integer types; for float16 and bfloat16 the division is done in float32).
/// Integer sums and products wrap.
public enum ReduceOp: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case sum = 1, prod, min, max, avg

    public var description: String {
        switch self {
        case .sum: return "sum"
        case .prod: return "prod"
        case .min: return "min"
        case .max: return "max"
        case .avg: return "avg"
        }
    }

    public init?(name: String) {
        guard let op = ReduceOp.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = op
    }
}

/// bfloat16: the upper half of an IEEE float32, rounded to nearest even.
public struct BFloat16: Hashable, Sendable, CustomStringConvertible {
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x40
        } else {
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        }
    }

    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
    public var description: String { "\(floatValue)" }
}

/// Swift types that collectives accept in typed buffers.
public protocol CommunicatorElement: BitwiseCopyable, Sendable {
    static var dataType: DataType { get }
}

extension Float: CommunicatorElement { public static var dataType: DataType { .float32 } }
extension Double: CommunicatorElement { public static var dataType: DataType { .float64 } }
extension Float16: CommunicatorElement { public static var dataType: DataType { .float16 } }
extension BFloat16: CommunicatorElement { public static var dataType: DataType { .bfloat16 } }
extension Int32: CommunicatorElement { public static var dataType: DataType { .int32 } }
extension Int64: CommunicatorElement { public static var dataType: DataType { .int64 } }
extension UInt8: CommunicatorElement { public static var dataType: DataType { .uint8 } }
