#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Float parsing with the forms Go's `strconv.ParseFloat` accepts in exposition values.
///
/// Most exposition values are short decimals (`1027`, `0.25`, `1.7355e-05`): those take an exact
/// fast path (a mantissa below 2^53 and a power of ten below 10^23 are both exact doubles, so one
/// multiplication or division is correctly rounded). Everything else goes through `strtod`.
public enum FloatParser {
    /// Parses a whole token; nil when any byte is left over or the form is not a float.
    @inlinable
    public static func parse(_ token: UnsafeRawBufferPointer) -> Double? {
        if let v = fastDecimal(token) { return v }
        return slow(token)
    }

    /// `[+-]digits[.digits][(e|E)[+-]digits]` with at most 15 significant digits and a small
    /// exponent; nil for anything else (the slow path decides).
    @inlinable
    static func fastDecimal(_ token: UnsafeRawBufferPointer) -> Double? {
        let n = token.count
        var i = 0
        guard n > 0 else { return nil }
        var negative = false
        if token[0] == UInt8(ascii: "-") || token[0] == UInt8(ascii: "+") {
            negative = token[0] == UInt8(ascii: "-")
            i = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var sawDigit = false
        var scale = 0
        // Leading zeros are not significant.
        while i < n, token[i] == UInt8(ascii: "0") {
            sawDigit = true
            i += 1
        }
        while i < n {
            let d = token[i] &- UInt8(ascii: "0")
            guard d < 10 else { break }
            mantissa = mantissa &* 10 &+ UInt64(d)
            digits += 1
            sawDigit = true
            i += 1
        }
        if i < n, token[i] == UInt8(ascii: ".") {
            i += 1
            if mantissa == 0 {
                while i < n, token[i] == UInt8(ascii: "0") {
                    scale -= 1
                    sawDigit = true
                    i += 1
                }
            }
            while i < n {
                let d = token[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits += 1
                scale -= 1
                sawDigit = true
                i += 1
            }
        }
        guard sawDigit, digits <= 15 else { return nil }
        if i < n, token[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < n, token[i] == UInt8(ascii: "-") || token[i] == UInt8(ascii: "+") {
                expNegative = token[i] == UInt8(ascii: "-")
                i += 1
            }
            var exp = 0
            let expStart = i
            while i < n {
                let d = token[i] &- UInt8(ascii: "0")
                guard d < 10, exp < 10_000 else { break }
                exp = exp * 10 + Int(d)
                i += 1
            }
            guard i > expStart else { return nil }
            scale += expNegative ? -exp : exp
        }
        guard i == n else { return nil }
        var v = Double(mantissa)
        if mantissa != 0 {
            guard scale >= -22 && scale <= 22 else { return nil }
            if scale < 0 { v /= powersOfTen[-scale] } else if scale > 0 { v *= powersOfTen[scale] }
        }
        return negative ? -v : v
    }

    @usableFromInline
    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
        1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The forms left: special values and long or unusual decimals. Like Prometheus, hexadecimal
    /// floats and underscores are refused even though Go's `ParseFloat` reads them.
    @usableFromInline
    static func slow(_ token: UnsafeRawBufferPointer) -> Double? {
        let n = token.count
        guard n > 0, n < 64 else { return nil }
        for b in token {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"):
                continue
            case UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "p"), UInt8(ascii: "P"):
                return nil
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                continue
            default:
                return nil
            }
        }
        // Go reads NaN only without a sign.
        if n == 4, token[0] == UInt8(ascii: "+") || token[0] == UInt8(ascii: "-"), token[1] | 0x20 == UInt8(ascii: "n") {
            return nil
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { tmp -> Double? in
            guard let base = tmp.baseAddress else { return nil }
            for i in 0..<n { base[i] = CChar(bitPattern: token[i]) }
            base[n] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(base, &end)
            guard let end, end == base + n else { return nil }
            return v
        }
    }
}
