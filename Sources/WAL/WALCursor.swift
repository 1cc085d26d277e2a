#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far a reader has got: the record it is in, and how many samples of that record it has
/// already had acknowledged (a batch may end inside a large samples record).
public struct WALCursor: Hashable, Sendable, CustomStringConvertible {
    public var position: WALPosition
    public var skip: Int
    public init(position: WALPosition, skip: Int) {
        self.position = position
        self.skip = skip
    }
    public var description: String { skip == 0 ? "\(position)" : "\(position)+\(skip)" }
}

/// One file per reader under `<path>/cursors/`, written atomically.
enum CursorStore {
    static let magic = "outpost-cursor-v1"

    /// Reader names may hold any character; file names keep the safe ones and hex-escape the rest.
    static func fileName(_ name: String) -> String {
        var out = ""
        for b in name.utf8 {
            let safe = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 95
            if safe {
                out.append(Character(Unicode.Scalar(b)))
            } else {
                out += "%" + String(b, radix: 16)
            }
        }
        return out
    }

    static func decodeName(_ file: String) -> String {
        var bytes: [UInt8] = []
        var it = Array(file.utf8)[...]
        while let b = it.popFirst() {
            if b == 37, it.count >= 1 {  // '%'
                var hex: [UInt8] = []
                while hex.count < 2, let h = it.first, (h >= 48 && h <= 57) || (h >= 97 && h <= 102) {
                    hex.append(h)
                    it = it.dropFirst()
                }
                bytes.append(UInt8(String(decoding: hex, as: UTF8.self), radix: 16) ?? 63)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func load(directory: String, name: String) -> WALCursor? {
        let path = directory + "/" + fileName(name)
        guard let fp = fopen(path, "r") else { return nil }
        defer { fclose(fp) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), fp) != nil else { return nil }
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 4, parts[0] == magic, let seg = Int(parts[1]), let off = Int64(parts[2]),
            let skip = Int(parts[3]), seg >= 0, off >= 0, skip >= 0
        else { return nil }
        return WALCursor(position: WALPosition(segment: seg, offset: off), skip: skip)
    }

    static func save(directory: String, name: String, cursor: WALCursor) throws(WALError) {
        let text = "\(magic) \(cursor.position.segment) \(cursor.position.offset) \(cursor.skip)\n"
        try FileIO.writeAtomically(directory + "/" + fileName(name), Array(text.utf8), directory: directory)
    }

    static func names(directory: String) -> [String] {
        FileIO.list(directory).filter { !$0.hasSuffix(".tmp") }.map(decodeName)
    }

    static func remove(directory: String, name: String) {
        unlink(directory + "/" + fileName(name))
    }
}
