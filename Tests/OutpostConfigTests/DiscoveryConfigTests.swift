import OutpostConfig
import Testing

/// `file_sd_configs`, `http_sd_configs` and `kubernetes_sd_configs`: defaults, Prometheus'
/// validation messages with file and line, and the deployment flags' effect on a configuration.
@Suite struct DiscoveryConfigTests {
    static func job(_ body: String) throws(ConfigError) -> ScrapeConfig {
        try ConfigLoader.parse(yaml: "scrape_configs:\n  - job_name: j\n" + body, file: "/etc/outpost/c.yaml").scrapeConfigs[0]
    }

    static func message(_ body: String) -> String {
        do {
            _ = try job(body)
            return ""
        } catch {
            return error.description
        }
    }

    @Test func fileAndHTTPDefaultsAndRelativePaths() throws {
        let j = try Self.job(
            """
                file_sd_configs: [{files: ['targets/*.json', /abs/x.yml]}]
                http_sd_configs: [{url: 'https://sd.example/targets', basic_auth: {username: u, password: p}}]
            """)
        #expect(j.serviceDiscovery.count == 2)
        guard case .file(let f) = j.serviceDiscovery[0].mechanism, case .http(let h) = j.serviceDiscovery[1].mechanism else {
            Issue.record("wrong mechanisms")
            return
        }
        #expect(f.files == ["/etc/outpost/targets/*.json", "/abs/x.yml"])
        #expect(f.refreshInterval == .seconds(300))
        #expect(h.url == "https://sd.example/targets")
        #expect(h.refreshInterval == .seconds(60))
        #expect(h.http.basicAuth?.password?.value == "p")
    }

    @Test func kubernetesFields() throws {
        let j = try Self.job(
            """
                kubernetes_sd_configs:
                  - role: endpointslice
                    api_server: https://10.0.0.1:6443/
                    namespaces: {names: [shop, web]}
                    selectors: [{role: pod, label: 'app in (a,b)', field: 'status.phase=Running'}, {role: service, label: team=x}]
                    attach_metadata: {node: true}
                    authorization: {credentials_file: /run/token}
            """)
        guard case .kubernetes(let k) = j.serviceDiscovery[0].mechanism else {
            Issue.record("not kubernetes")
            return
        }
        #expect(k.role == .endpointslice)
        #expect(k.apiServer == "https://10.0.0.1:6443")
        #expect(k.namespaces == ["shop", "web"])
        #expect(k.selectors == [.init(role: .pod, label: "app in (a,b)", field: "status.phase=Running"), .init(role: .service, label: "team=x", field: "")])
        #expect(k.attachNode)
        #expect(k.http.authorization?.credentialsFile == "/run/token")
    }

    @Test func prometheusMessagesWithFileAndLine() {
        #expect(
            Self.message("    file_sd_configs: [{files: []}]\n")
                == "/etc/outpost/c.yaml:3: scrape_configs[0].file_sd_configs[0]: file service discovery config must contain at least one path name")
        #expect(
            Self.message("    file_sd_configs: [{files: ['a/*/b.json']}]\n")
                == "/etc/outpost/c.yaml:3: scrape_configs[0].file_sd_configs[0]: files: path name \"a/*/b.json\" is not valid for file discovery")
        #expect(Self.message("    file_sd_configs: [{files: [t.txt]}]\n").hasSuffix("path name \"t.txt\" is not valid for file discovery"))
        #expect(Self.message("    http_sd_configs: [{url: 'ftp://x/y'}]\n").hasSuffix("url: URL scheme must be 'http' or 'https'"))
        #expect(Self.message("    http_sd_configs: [{refresh_interval: 1m}]\n").hasSuffix("URL is missing"))
        #expect(
            Self.message("    kubernetes_sd_configs:\n      - api_server: https://k\n")
                == "/etc/outpost/c.yaml:4: scrape_configs[0].kubernetes_sd_configs[0]: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")
        #expect(Self.message("    kubernetes_sd_configs: [{role: pods}]\n").hasSuffix("role: unknown Kubernetes SD role \"pods\""))
        #expect(Self.message("    kubernetes_sd_configs: [{role: ingress}]\n").contains("the ingress role is not supported by Outpost"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: pod, api_server: 'https://k', kubeconfig_file: kc}]\n")
                .hasSuffix("cannot use 'kubeconfig_file' and 'api_server' simultaneously"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: pod, basic_auth: {username: u}}]\n")
                .hasSuffix("to use custom HTTP client configuration please provide the 'api_server' URL explicitly"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: pod, api_server: 'https://k', namespaces: {own_namespace: true}}]\n")
                .hasSuffix("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: service, selectors: [{role: pod, label: a=b}]}]\n")
                .hasSuffix("role: service role supports only service selectors"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: pod, selectors: [{role: pod}, {role: pod}]}]\n")
                .hasSuffix("role: duplicated selector role: pod"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: pod, selectors: [{role: pod, field: 'spec.nodeName'}]}]\n")
                .contains("invalid field selector"))
        #expect(
            Self.message("    kubernetes_sd_configs: [{role: pod, attach_metadata: {namespace: true}}]\n")
                .contains("attaching namespace metadata is not supported by Outpost"))
        #expect(Self.message("    consul_sd_configs: [{server: 'c:8500'}]\n").hasSuffix("field consul_sd_configs not found in scrape_configs[0]"))
    }

    @Test func deploymentNarrowsPodDiscoveryAndShardsTargets() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                scrape_configs:
                  - job_name: pods
                    kubernetes_sd_configs: [{role: pod}, {role: node}]
                """, file: "c.yaml")
        let d = try DeploymentSettings.make(nodeLocal: true, members: 3, member: 2, environment: ["NODE_NAME": "worker-a"])
        let deployed = config.deployed(d)
        let sds = deployed.scrapeConfigs[0].serviceDiscovery
        guard case .kubernetes(let pod) = sds[0].mechanism, case .kubernetes(let node) = sds[1].mechanism else {
            Issue.record("not kubernetes")
            return
        }
        #expect(pod.nodeName == "worker-a")
        #expect(node.nodeName == nil)  // only pod discovery is node-local
        #expect(sds[0].key != config.scrapeConfigs[0].serviceDiscovery[0].key)
        let rules = deployed.scrapeConfigs[0].relabelConfigs
        #expect(rules.map(\.action) == [.hashmod, .keep])
        #expect(rules[0].modulus == 3 && rules[0].sourceLabels == ["__address__"])
        #expect(rules[1].regex.source == "2")
        #expect(config.deployed(DeploymentSettings()).scrapeConfigs[0].relabelConfigs.isEmpty)

        #expect(throws: ConfigError.self) { try DeploymentSettings.make(nodeLocal: true, members: 1, member: 0, environment: [:]) }
        #expect(throws: ConfigError.self) { try DeploymentSettings.make(nodeLocal: false, members: 2, member: 2, environment: [:]) }
        #expect(throws: ConfigError.self) { try DeploymentSettings.make(nodeLocal: false, members: 0, member: 0, environment: [:]) }
    }
}
