/// A secret from the configuration (a password, token, client secret or key). It prints as
/// `<secret>` everywhere, so it cannot reach a log line, `/status` or an error by accident; only
/// ``value`` gives it out, for the request that needs it.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}

/// `basic_auth`.
public struct BasicAuth: Sendable, Equatable {
    public var username = ""
    public var usernameFile: String? = nil
    public var password: Secret? = nil
    public var passwordFile: String? = nil
    public init() {}
}

/// `authorization` (and the older `bearer_token` / `bearer_token_file`, read as it).
public struct AuthorizationConfig: Sendable, Equatable {
    public var type = "Bearer"
    public var credentials: Secret? = nil
    /// Read for every request, so a rotated token is used as soon as the file changes.
    public var credentialsFile: String? = nil
    public init() {}
}

/// `oauth2`, the client-credentials grant.
public struct OAuth2Config: Sendable, Equatable {
    public var clientID = ""
    public var clientSecret: Secret? = nil
    public var clientSecretFile: String? = nil
    public var tokenURL = ""
    public var scopes: [String] = []
    /// Extra form fields for the token request, in file order.
    public var endpointParams: [Pair] = []
    /// TLS for the token endpoint.
    public var tls = TLSConfig()
    public var proxyURL: String? = nil
    public init() {}

    public struct Pair: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }
}

/// `tls_config`. Files are re-read when they change.
public struct TLSConfig: Sendable, Equatable {
    public var caFile: String? = nil
    public var ca: String? = nil
    public var certFile: String? = nil
    public var cert: String? = nil
    public var keyFile: String? = nil
    public var key: Secret? = nil
    public var serverName: String? = nil
    public var insecureSkipVerify = false
    /// `TLS10` … `TLS13`; nil: TLS 1.2, Prometheus' default.
    public var minVersion: String? = nil
    public var maxVersion: String? = nil
    public init() {}

    public var isDefault: Bool { self == TLSConfig() }
}

/// `sigv4`, for Amazon Managed Service for Prometheus.
public struct SigV4Config: Sendable, Equatable {
    public var region = ""
    public var accessKey: String? = nil
    public var secretKey: Secret? = nil
    public var profile: String? = nil
    public var roleARN: String? = nil
    public init() {}
}

/// How to reach an HTTP server: the fields Prometheus' scrape and remote-write configs share
/// (`prometheus/common`'s HTTP client config), with Prometheus' names and defaults.
public struct HTTPClientConfig: Sendable, Equatable {
    public var basicAuth: BasicAuth? = nil
    public var authorization: AuthorizationConfig? = nil
    public var oauth2: OAuth2Config? = nil
    public var sigv4: SigV4Config? = nil
    public var tls = TLSConfig()
    public var proxyURL: String? = nil
    public var followRedirects = true
    public var enableHTTP2 = true
    public init() {}

    /// The keys this config reads from a scrape job or remote-write entry.
    public static let keys: Set<String> = [
        "basic_auth", "authorization", "oauth2", "tls_config", "proxy_url", "follow_redirects", "enable_http2",
        "bearer_token", "bearer_token_file",
    ]
}
