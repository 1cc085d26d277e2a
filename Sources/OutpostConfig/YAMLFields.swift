import Yams

/// A YAML mapping checked against the fields its type allows, with typed, located accessors.
/// Every error names the file, the line and the field.
struct YAMLFields {
    let file: String
    let context: String
    let line: Int
    private var values: [String: (line: Int, node: Node)] = [:]

    init(_ node: Node, file: String, context: String, allowed: Set<String>) throws(ConfigError) {
        self.file = file
        self.context = context
        self.line = node.mark?.line ?? 0
        guard case .mapping(let mapping) = node else {
            throw ConfigError(file: file, line: line, message: "\(context) must be a mapping")
        }
        for (key, value) in mapping {
            let keyLine = key.mark?.line ?? line
            guard let name = key.string else {
                throw ConfigError(file: file, line: keyLine, message: "\(context): field names must be strings")
            }
            guard allowed.contains(name) else {
                throw ConfigError(file: file, line: keyLine, message: "field \(name) not found in \(context)")
            }
            guard values[name] == nil else {
                throw ConfigError(file: file, line: keyLine, message: "field \(name) given twice in \(context)")
            }
            values[name] = (keyLine, value)
        }
    }

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: values[key]?.line ?? line, message: "\(context): \(key): \(message)")
    }

    func has(_ key: String) -> Bool {
        guard let node = values[key]?.node else { return false }
        return !isNull(node)
    }

    func node(_ key: String) -> Node? {
        guard let node = values[key]?.node, !isNull(node) else { return nil }
        return node
    }

    func lineOf(_ key: String) -> Int { values[key]?.line ?? line }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let s) = node else { throw error(key, "must be a string") }
        return s.string
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let s) = node, let b = ["true": true, "false": false][s.string] else {
            throw error(key, "must be true or false")
        }
        return b
    }

    func int(_ key: String, minimum: Int = 0) throws(ConfigError) -> Int? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let s) = node, let i = Int(s.string), i >= minimum else {
            throw error(key, "must be an integer of at least \(minimum)")
        }
        return i
    }

    func duration(_ key: String) throws(ConfigError) -> Duration? {
        guard let text = try string(key) else { return nil }
        guard let d = PromDuration.parse(text) else {
            throw error(key, "not a valid duration string: \"\(text)\"")
        }
        return d
    }

    func sequence(_ key: String) throws(ConfigError) -> [Node] {
        guard let node = node(key) else { return [] }
        guard case .sequence(let seq) = node else { throw error(key, "must be a list") }
        return Array(seq)
    }

    func stringList(_ key: String) throws(ConfigError) -> [String] {
        var out: [String] = []
        for item in try sequence(key) {
            guard case .scalar(let s) = item else { throw error(key, "must be a list of strings") }
            out.append(s.string)
        }
        return out
    }

    /// A mapping of string to string, in file order.
    func stringMap(_ key: String) throws(ConfigError) -> [(String, String)] {
        guard let node = node(key) else { return [] }
        guard case .mapping(let mapping) = node else { throw error(key, "must be a mapping of strings") }
        var out: [(String, String)] = []
        for (k, v) in mapping {
            guard case .scalar(let ks) = k, case .scalar(let vs) = v else {
                throw error(key, "must be a mapping of strings")
            }
            out.append((ks.string, vs.string))
        }
        return out
    }

    /// A mapping of string to list of strings (`params:`).
    func stringListMap(_ key: String) throws(ConfigError) -> [(name: String, values: [String])] {
        guard let node = node(key) else { return [] }
        guard case .mapping(let mapping) = node else { throw error(key, "must be a mapping of string lists") }
        var out: [(name: String, values: [String])] = []
        for (k, v) in mapping {
            guard case .scalar(let ks) = k, case .sequence(let seq) = v else {
                throw error(key, "must be a mapping of string lists")
            }
            var values: [String] = []
            for item in seq {
                guard case .scalar(let s) = item else { throw error(key, "must be a mapping of string lists") }
                values.append(s.string)
            }
            out.append((ks.string, values))
        }
        return out
    }

    private func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) {
            return true
        }
        return false
    }
}
