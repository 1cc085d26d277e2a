import Crypto
import FoundationEssentials
import OutpostConfig

#if canImport(Glibc)
import Glibc
#endif

/// AWS Signature Version 4 for remote-write to Amazon Managed Service for Prometheus (service
/// `aps`): the request is signed over its method, path, query, `host` and `x-amz-date` headers and
/// body hash, with a key derived from the secret key, the date, the region and the service.
struct SigV4Signer: Sendable {
    struct Credentials: Sendable {
        var accessKey: String
        var secretKey: Secret
        var sessionToken: Secret?
    }

    var region: String
    var service = "aps"

    /// The headers to add to a request: `X-Amz-Date`, `Authorization`, and `X-Amz-Security-Token`
    /// with temporary credentials. `amzDate` is `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    func sign(
        method: String, url: String, body: [UInt8], credentials: Credentials, amzDate: String
    ) -> [(String, String)] {
        guard let parts = URLParts(url) else { return [] }
        let host = parts.hostAndPort
        var path = parts.rest
        var query = ""
        if let q = path.firstIndex(of: "?") {
            query = String(path[path.index(after: q)...])
            path = String(path[..<q])
        }
        if let hash = query.firstIndex(of: "#") { query = String(query[..<hash]) }
        if path.isEmpty { path = "/" }
        var headers: [(String, String)] = [("host", host), ("x-amz-date", amzDate)]
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token.value)) }
        headers.sort { $0.0 < $1.0 }
        let signedHeaders = headers.map(\.0).joined(separator: ";")
        let canonical = [
            method,
            Self.encodePath(path),
            Self.canonicalQuery(query),
            headers.map { "\($0.0):\($0.1)\n" }.joined(),
            signedHeaders,
            Self.hex(SHA256.hash(data: body)),
        ].joined(separator: "\n")
        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n" + Self.hex(SHA256.hash(data: Array(canonical.utf8)))
        var key = SymmetricKey(data: Array(("AWS4" + credentials.secretKey.value).utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: key))
        var out: [(String, String)] = [
            ("X-Amz-Date", amzDate),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
            ),
        ]
        if let token = credentials.sessionToken { out.append(("X-Amz-Security-Token", token.value)) }
        return out
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 encoding of everything but unreserved characters (and `/` in paths).
    static func uriEncode(_ s: String, keepSlash: Bool) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash:
                out.append(b)
            default:
                out += [UInt8(ascii: "%"), digits[Int(b >> 4)], digits[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The path as sent, decoded once and encoded again the canonical way.
    static func encodePath(_ path: String) -> String {
        uriEncode(percentDecode(path), keepSlash: true)
    }

    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        var pairs: [(String, String)] = []
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = uriEncode(percentDecode(String(kv[0])), keepSlash: false)
            let v = kv.count > 1 ? uriEncode(percentDecode(String(kv[1])), keepSlash: false) : ""
            pairs.append((k, v))
        }
        pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    static func percentDecode(_ s: String) -> String {
        let b = Array(s.utf8)
        var out: [UInt8] = []
        var i = 0
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let h = hexValue(b[i + 1]), let l = hexValue(b[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` for seconds since the epoch.
    static func amzDate(epochSeconds t: Int64) -> String {
        var days = t / 86_400
        var rem = t % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        // Civil date from days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)\(two(month))\(two(day))T\(two(rem / 3600))\(two(rem / 60 % 60))\(two(rem % 60))Z"
    }
}

/// Where SigV4 credentials come from, in the AWS SDK's order: the config's keys, then the
/// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the
/// shared credentials file's profile (`profile`, else `AWS_PROFILE`, else `default`). The file is
/// read again when it changes, so rotated keys are picked up.
final class SigV4Credentials: Sendable {
    let config: SigV4Config
    private let file: WatchedFile

    init(_ config: SigV4Config) {
        self.config = config
        let env = ProcessInfo.processInfo.environment
        let path = env["AWS_SHARED_CREDENTIALS_FILE"] ?? ((env["HOME"] ?? "/root") + "/.aws/credentials")
        file = WatchedFile(path)
    }

    func current() throws(TransportError) -> SigV4Signer.Credentials {
        if let access = config.accessKey, let secret = config.secretKey {
            return .init(accessKey: access, secretKey: secret, sessionToken: nil)
        }
        let env = ProcessInfo.processInfo.environment
        if config.profile == nil, let access = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"],
            !access.isEmpty, !secret.isEmpty
        {
            return .init(
                accessKey: access, secretKey: Secret(secret), sessionToken: env["AWS_SESSION_TOKEN"].map(Secret.init))
        }
        let profile = config.profile ?? env["AWS_PROFILE"] ?? "default"
        let text = String(decoding: try file.read().bytes, as: UTF8.self)
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = trimmed(String(raw))
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = trimmed(String(line.dropFirst().dropLast()))
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[trimmed(String(line[..<eq]))] = trimmed(String(line[line.index(after: eq)...]))
        }
        guard let access = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw TransportError(
                kind: .other, message: "sigv4: no credentials for profile \"\(profile)\" in \(file.path) or the environment")
        }
        return .init(
            accessKey: access, secretKey: Secret(secret), sessionToken: values["aws_session_token"].map(Secret.init))
    }
}
