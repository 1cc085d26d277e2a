#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An I/O failure with the operation, path and errno text.
public struct WALError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var errno: Int32
    public init(_ message: String, errno: Int32 = 0) {
        self.message = message
        self.errno = errno
    }
    public var description: String {
        errno == 0 ? message : "\(message): \(String(cString: strerror(errno)))"
    }
    /// Whether the failure was a full disk.
    public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
}

/// Thin wrappers over POSIX file calls; errors become ``WALError`` with the path.
enum FileIO {
    static func makeDirectory(_ path: String) throws(WALError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && Glibc.errno != EEXIST {
                throw WALError("create directory \(current)", errno: Glibc.errno)
            }
        }
    }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(WALError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WALError("open \(path)", errno: Glibc.errno) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(WALError) {
        let failure = bytes.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return 0 }
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, base + done, raw.count - done)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    return Glibc.errno
                }
                done += n
            }
            return 0
        }
        if failure != 0 { throw WALError("write \(path)", errno: failure) }
    }

    /// Reads up to `count` bytes at `offset` into `buffer` (replacing its contents).
    static func read(_ fd: Int32, offset: Int64, count: Int, into buffer: inout [UInt8], path: String) throws(WALError) {
        buffer.removeAll(keepingCapacity: true)
        guard count > 0 else { return }
        var failure: Int32 = 0
        buffer.append(contentsOf: repeatElement(0, count: count))
        let got = buffer.withUnsafeMutableBytes { raw -> Int in
            var done = 0
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    failure = Glibc.errno
                    return done
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
        buffer.removeLast(count - got)
        if failure != 0 { throw WALError("read \(path)", errno: failure) }
    }

    static func size(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    static func fsyncDirectory(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Names of the entries in `path`, without `.` and `..`.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], directory: String) throws(WALError) {
        let tmp = path + ".tmp"
        let fd = try open(tmp, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try writeAll(fd, bytes, path: tmp)
        } catch {
            close(fd)
            throw error
        }
        if fsync(fd) != 0 {
            let e = Glibc.errno
            close(fd)
            throw WALError("fsync \(tmp)", errno: e)
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw WALError("rename \(tmp)", errno: Glibc.errno) }
        fsyncDirectory(directory)
    }
}
