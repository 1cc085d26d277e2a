import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A scrape target on 127.0.0.1 that answers every request with the body and headers the test set,
/// and remembers the last request's head. One thread, one connection at a time, `Connection: close`.
final class TestTarget: Sendable {
    struct Response: Sendable {
        var body: [UInt8]
        var headers: [String]
    }

    let port: Int
    private let fd: Int32
    private let response: Mutex<Response>
    private let lastRequestHead = Mutex<String>("")

    init(body: [UInt8], headers: [String]) throws {
        response = Mutex(Response(body: body, headers: headers))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw HarnessError("bind/listen failed") }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }  // closed by stop()
                self.answer(c)
                close(c)
            }
        }
    }

    convenience init(text: String, headers: [String]) throws {
        try self.init(body: Array(text.utf8), headers: headers)
    }

    /// The head (request line and headers) of the last request.
    var lastRequest: String { lastRequestHead.withLock { $0 } }

    func set(body: [UInt8]) { response.withLock { $0.body = body } }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func answer(_ c: Int32) {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while head.count < 64 << 10 {
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            head += chunk[0..<n]
            if head.count >= 4, head.suffix(4) == [13, 10, 13, 10] { break }
        }
        lastRequestHead.withLock { $0 = String(decoding: head, as: UTF8.self) }
        let r = response.withLock { $0 }
        var out = "HTTP/1.1 200 OK\r\n"
        for h in r.headers { out += h + "\r\n" }
        out += "Content-Length: \(r.body.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(out.utf8) + r.body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

/// `text` compressed by the system's gzip.
func gzipped(_ text: String) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-c", "-n"]
    let input = Pipe()
    let output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, data.count > 10 else { throw HarnessError("gzip failed") }
    return [UInt8](data)
}
