import Yams

extension ConfigLoader {
    /// Reads the HTTP client fields of a scrape job or remote-write entry (``HTTPClientConfig/keys``)
    /// with Prometheus' validation and messages. Relative file paths are taken from the directory
    /// of the configuration file, as Prometheus resolves them.
    static func parseHTTPClientConfig(_ f: YAMLFields, sigv4: Bool = false) throws(ConfigError) -> HTTPClientConfig {
        var c = HTTPClientConfig()
        let dir = directory(of: f.file)
        if let n = f.node("basic_auth") {
            let b = try YAMLFields(
                n, file: f.file, context: "\(f.context).basic_auth",
                allowed: ["username", "username_file", "password", "password_file"])
            var auth = BasicAuth()
            auth.username = try b.string("username") ?? ""
            auth.usernameFile = try b.string("username_file").map { resolve($0, in: dir) }
            auth.password = try b.string("password").map(Secret.init)
            auth.passwordFile = try b.string("password_file").map { resolve($0, in: dir) }
            if !auth.username.isEmpty && auth.usernameFile != nil {
                throw b.error("username", "at most one of basic_auth username, username_file & username_ref must be configured")
            }
            if auth.password != nil && auth.passwordFile != nil {
                throw b.error("password", "at most one of basic_auth password, password_file & password_ref must be configured")
            }
            c.basicAuth = auth
        }
        let bearer = try f.string("bearer_token").map(Secret.init)
        let bearerFile = try f.string("bearer_token_file").map { resolve($0, in: dir) }
        if bearer != nil && bearerFile != nil {
            throw f.error("bearer_token", "at most one of bearer_token & bearer_token_file must be configured")
        }
        if let n = f.node("authorization") {
            if bearer != nil || bearerFile != nil {
                throw f.error("authorization", "authorization is not compatible with bearer_token & bearer_token_file")
            }
            let a = try YAMLFields(
                n, file: f.file, context: "\(f.context).authorization", allowed: ["type", "credentials", "credentials_file"])
            var auth = AuthorizationConfig()
            let type = (try a.string("type") ?? "").trimmingSpaces
            auth.type = type.isEmpty ? "Bearer" : type
            if auth.type.lowercased() == "basic" {
                throw a.error("type", #"authorization type cannot be set to "basic", use "basic_auth" instead"#)
            }
            auth.credentials = try a.string("credentials").map(Secret.init)
            auth.credentialsFile = try a.string("credentials_file").map { resolve($0, in: dir) }
            if auth.credentials != nil && auth.credentialsFile != nil {
                throw a.error("credentials", "at most one of authorization credentials & credentials_file must be configured")
            }
            c.authorization = auth
        } else if bearer != nil || bearerFile != nil {
            var auth = AuthorizationConfig()
            auth.credentials = bearer
            auth.credentialsFile = bearerFile
            c.authorization = auth
        }
        if let n = f.node("oauth2") {
            let o = try YAMLFields(
                n, file: f.file, context: "\(f.context).oauth2",
                allowed: [
                    "client_id", "client_secret", "client_secret_file", "token_url", "scopes", "endpoint_params",
                    "tls_config", "proxy_url",
                ])
            var auth = OAuth2Config()
            auth.clientID = try o.string("client_id") ?? ""
            auth.clientSecret = try o.string("client_secret").map(Secret.init)
            auth.clientSecretFile = try o.string("client_secret_file").map { resolve($0, in: dir) }
            auth.tokenURL = try o.string("token_url") ?? ""
            auth.scopes = try o.stringList("scopes")
            auth.endpointParams = try o.stringMap("endpoint_params").map { OAuth2Config.Pair($0.0, $0.1) }
            if let t = o.node("tls_config") { auth.tls = try parseTLSConfig(t, parent: o, directory: dir) }
            auth.proxyURL = try proxyURL(o)
            if auth.clientID.isEmpty { throw o.error("client_id", "oauth2 client_id must be configured") }
            if auth.tokenURL.isEmpty { throw o.error("token_url", "oauth2 token_url must be configured") }
            guard auth.tokenURL.hasPrefix("http://") || auth.tokenURL.hasPrefix("https://") else {
                throw o.error("token_url", "must be an http:// or https:// URL")
            }
            if auth.clientSecret != nil && auth.clientSecretFile != nil {
                throw o.error(
                    "client_secret",
                    "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials")
            }
            c.oauth2 = auth
        }
        if sigv4, let n = f.node("sigv4") {
            let s = try YAMLFields(
                n, file: f.file, context: "\(f.context).sigv4",
                allowed: ["region", "access_key", "secret_key", "profile", "role_arn"])
            var v = SigV4Config()
            v.region = try s.string("region") ?? ""
            v.accessKey = try s.string("access_key")
            v.secretKey = try s.string("secret_key").map(Secret.init)
            v.profile = try s.string("profile")
            v.roleARN = try s.string("role_arn")
            if (v.accessKey == nil) != (v.secretKey == nil) {
                throw s.error("access_key", "must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config")
            }
            if v.roleARN != nil {
                throw s.error("role_arn", "assuming a role needs AWS STS, which Outpost does not call; give access_key and secret_key (or the environment's credentials) for the role instead")
            }
            c.sigv4 = v
        }
        let auths = [c.basicAuth != nil, c.authorization != nil, c.oauth2 != nil, c.sigv4 != nil].filter { $0 }.count
        if auths > 1 {
            throw ConfigError(
                file: f.file, line: f.line,
                message: "\(f.context): at most one of basic_auth, oauth2, sigv4 & authorization must be configured")
        }
        if let t = f.node("tls_config") { c.tls = try parseTLSConfig(t, parent: f, directory: dir) }
        c.proxyURL = try proxyURL(f)
        c.followRedirects = try f.bool("follow_redirects") ?? true
        c.enableHTTP2 = try f.bool("enable_http2") ?? true
        return c
    }

    static func parseTLSConfig(_ node: Node, parent: YAMLFields, directory dir: String) throws(ConfigError) -> TLSConfig {
        let t = try YAMLFields(
            node, file: parent.file, context: "\(parent.context).tls_config",
            allowed: [
                "ca_file", "ca", "cert_file", "cert", "key_file", "key", "server_name", "insecure_skip_verify",
                "min_version", "max_version",
            ])
        var c = TLSConfig()
        c.caFile = try t.string("ca_file").map { resolve($0, in: dir) }
        c.ca = try t.string("ca")
        c.certFile = try t.string("cert_file").map { resolve($0, in: dir) }
        c.cert = try t.string("cert")
        c.keyFile = try t.string("key_file").map { resolve($0, in: dir) }
        c.key = try t.string("key").map(Secret.init)
        c.serverName = try t.string("server_name")
        c.insecureSkipVerify = try t.bool("insecure_skip_verify") ?? false
        let versions = ["TLS10", "TLS11", "TLS12", "TLS13"]
        for key in ["min_version", "max_version"] {
            if let v = try t.string(key), !versions.contains(v) {
                throw t.error(key, "unknown TLS version: \(v)")
            }
        }
        c.minVersion = try t.string("min_version")
        c.maxVersion = try t.string("max_version")
        if c.ca != nil && c.caFile != nil {
            throw t.error("ca", "at most one of ca, ca_file & ca_ref must be configured")
        }
        if c.cert != nil && c.certFile != nil {
            throw t.error("cert", "at most one of cert, cert_file & cert_ref must be configured")
        }
        if c.key != nil && c.keyFile != nil {
            throw t.error("key", "at most one of key and key_file must be configured")
        }
        for (key, path) in [("ca_file", c.caFile), ("cert_file", c.certFile), ("key_file", c.keyFile)] {
            if let path, readFile(path) == nil {
                throw t.error(key, "unable to read file \(path)")
            }
        }
        let hasCert = c.cert != nil || c.certFile != nil
        let hasKey = c.key != nil || c.keyFile != nil
        if hasCert && !hasKey { throw t.error("cert_file", "client cert file specified without client key file") }
        if hasKey && !hasCert { throw t.error("key_file", "client key file specified without client cert file") }
        return c
    }

    private static func proxyURL(_ f: YAMLFields) throws(ConfigError) -> String? {
        guard let url = try f.string("proxy_url"), !url.isEmpty else { return nil }
        guard url.hasPrefix("http://") else {
            throw f.error("proxy_url", "only http:// proxies are supported, got \"\(redactedProxy(url))\"")
        }
        return url
    }

    private static func redactedProxy(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
        return String(url[..<scheme.upperBound]) + "<secret>" + String(url[at...])
    }

    static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    static func resolve(_ path: String, in dir: String) -> String {
        path.hasPrefix("/") || path.isEmpty || dir == "." ? path : dir + "/" + path
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
