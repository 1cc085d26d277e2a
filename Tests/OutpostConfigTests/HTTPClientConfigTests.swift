import OutpostConfig
import Testing

/// The HTTP client fields shared by scrape jobs and remote-write endpoints: Prometheus' names,
/// defaults and messages, located errors, and secrets that never print.
@Suite struct HTTPClientConfigTests {
    static func remote(_ body: String) throws(ConfigError) -> RemoteWriteConfig {
        try ConfigLoader.parse(yaml: "remote_write:\n  - url: https://r.example/api/v1/write\n" + body, file: "/etc/outpost/c.yaml")
            .remoteWrite[0]
    }

    static func message(_ body: String) -> String {
        do {
            _ = try remote(body)
            return ""
        } catch {
            return error.description
        }
    }

    @Test func defaults() throws {
        let http = try Self.remote("").http
        #expect(http == HTTPClientConfig())
        #expect(http.followRedirects)
        #expect(http.enableHTTP2)
        #expect(http.basicAuth == nil && http.authorization == nil && http.oauth2 == nil && http.sigv4 == nil)
    }

    @Test func everyAuthKindAndRelativeFilesFromTheConfigDirectory() throws {
        let basic = try Self.remote("    basic_auth: {username: u, password_file: pw}\n").http.basicAuth
        #expect(basic?.username == "u")
        #expect(basic?.passwordFile == "/etc/outpost/pw")
        let auth = try Self.remote("    authorization: {credentials_file: /run/token}\n").http.authorization
        #expect(auth?.type == "Bearer")
        #expect(auth?.credentialsFile == "/run/token")
        let custom = try Self.remote("    authorization: {type: Token, credentials: abc}\n").http.authorization
        #expect(custom?.type == "Token")
        #expect(custom?.credentials?.value == "abc")
        // The older bearer_token fields are read as authorization.
        let bearer = try Self.remote("    bearer_token: xyz\n").http.authorization
        #expect(bearer?.type == "Bearer" && bearer?.credentials?.value == "xyz")
        let oauth = try Self.remote(
            """
                oauth2:
                  client_id: id
                  client_secret: s3cret
                  token_url: https://auth.example/token
                  scopes: [a, b]
                  endpoint_params: {audience: rhobs}

            """
        ).http.oauth2
        #expect(oauth?.clientID == "id")
        #expect(oauth?.scopes == ["a", "b"])
        #expect(oauth?.endpointParams == [.init("audience", "rhobs")])
        let sig = try Self.remote("    sigv4: {region: eu-west-1, access_key: AK, secret_key: SK}\n").http.sigv4
        #expect(sig?.region == "eu-west-1" && sig?.accessKey == "AK" && sig?.secretKey?.value == "SK")
        let other = try Self.remote("    proxy_url: http://proxy:3128\n    follow_redirects: false\n    enable_http2: false\n").http
        #expect(other.proxyURL == "http://proxy:3128")
        #expect(!other.followRedirects && !other.enableHTTP2)
    }

    @Test func secretsNeverPrint() throws {
        let http = try Self.remote("    basic_auth: {username: u, password: hunter2}\n").http
        let printed = "\(http) \(String(describing: http.basicAuth)) \(String(reflecting: http))"
        #expect(!printed.contains("hunter2"))
        #expect(printed.contains("<secret>"))
    }

    @Test func conflictsAreErrorsWithPrometheusWordsAndLines() {
        #expect(
            Self.message("    basic_auth: {username: u}\n    authorization: {credentials: x}\n")
                == "/etc/outpost/c.yaml:2: remote_write[0]: at most one of basic_auth, oauth2, sigv4 & authorization must be configured")
        #expect(
            Self.message("    bearer_token: a\n    bearer_token_file: b\n")
                == "/etc/outpost/c.yaml:3: remote_write[0]: bearer_token: at most one of bearer_token & bearer_token_file must be configured")
        #expect(
            Self.message("    authorization: {type: Basic, credentials: x}\n")
                == #"/etc/outpost/c.yaml:3: remote_write[0].authorization: type: authorization type cannot be set to "basic", use "basic_auth" instead"#)
        #expect(
            Self.message("    oauth2: {client_secret: s, token_url: https://t}\n")
                == "/etc/outpost/c.yaml:3: remote_write[0].oauth2: client_id: oauth2 client_id must be configured")
        #expect(
            Self.message("    tls_config: {cert_file: /dev/null}\n")
                == "/etc/outpost/c.yaml:3: remote_write[0].tls_config: cert_file: client cert file specified without client key file")
        #expect(
            Self.message("    tls_config: {ca_file: /no/such/ca.pem}\n")
                == "/etc/outpost/c.yaml:3: remote_write[0].tls_config: ca_file: unable to read file /no/such/ca.pem")
        #expect(
            Self.message("    tls_config: {min_version: TLS9}\n")
                == "/etc/outpost/c.yaml:3: remote_write[0].tls_config: min_version: unknown TLS version: TLS9")
        #expect(Self.message("    sigv4: {region: r, access_key: a}\n").contains("Access key and Secret Key"))
        #expect(Self.message("    sigv4: {region: r, role_arn: arn:aws:iam::1:role/x}\n").contains("role_arn"))
        #expect(Self.message("    proxy_url: socks5://u:pw@p:1080\n").contains("only http:// proxies"))
        #expect(!Self.message("    proxy_url: socks5://u:pw@p:1080\n").contains("pw"))
    }

    @Test func scrapeJobsTakeTheSameFields() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                scrape_configs:
                  - job_name: secure
                    scheme: https
                    basic_auth: {username: scraper, password: pw}
                    tls_config: {insecure_skip_verify: true, server_name: node.internal}
                """, file: "c.yaml")
        let http = config.scrapeConfigs[0].http
        #expect(http.basicAuth?.username == "scraper")
        #expect(http.tls.insecureSkipVerify)
        #expect(http.tls.serverName == "node.internal")
        // sigv4 is for remote_write only, as in Prometheus.
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "scrape_configs:\n  - job_name: a\n    sigv4: {region: r}\n", file: "c.yaml")
        }
    }
}
