/// Prints configuration back as Prometheus YAML.
public enum ConfigPrinter {
    /// `scrape_configs:` with every job, the file's own first and then the monitors', each as
    /// the job's YAML with secrets shown as `<secret>`.
    public static func scrapeConfigs(_ config: OutpostConfiguration) -> String {
        var out = "scrape_configs:\n"
        for job in config.scrapeConfigs {
            var first = true
            for line in job.printable.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                out += (first ? "- " : "  ") + line + "\n"
                first = false
            }
        }
        return out
    }
}
