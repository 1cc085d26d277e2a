import Prometheus

/// Every self-metric name Outpost exposes. Prometheus' names where the concept is the same, so
/// existing dashboards and alerts work; `outpost_*` where Prometheus has no name.
public enum MetricName {
    // Remote-write, labelled {remote_name, url} as in Prometheus.
    public static let remoteSamplesTotal = "prometheus_remote_storage_samples_total"
    public static let remoteSamplesFailed = "prometheus_remote_storage_samples_failed_total"
    public static let remoteSamplesRetried = "prometheus_remote_storage_samples_retried_total"
    public static let remoteSamplesDropped = "prometheus_remote_storage_samples_dropped_total"
    public static let remoteSamplesPending = "prometheus_remote_storage_samples_pending"
    public static let remoteBytesTotal = "prometheus_remote_storage_bytes_total"
    public static let remoteShards = "prometheus_remote_storage_shards"
    public static let remoteExemplarsTotal = "prometheus_remote_storage_exemplars_total"
    public static let remoteExemplarsFailed = "prometheus_remote_storage_exemplars_failed_total"
    public static let remoteMetadataTotal = "prometheus_remote_storage_metadata_total"
    public static let remoteMetadataFailed = "prometheus_remote_storage_metadata_failed_total"
    /// Samples a 2.0 receiver's `X-Prometheus-Remote-Write-Samples-Written` said it did not write.
    public static let remoteSamplesUnconfirmed = "outpost_remote_storage_samples_unconfirmed_total"
    /// Exemplars a 2.0 receiver's `X-Prometheus-Remote-Write-Exemplars-Written` said it did not write.
    public static let remoteExemplarsUnconfirmed = "outpost_remote_storage_exemplars_unconfirmed_total"
    public static let remoteShardsDesired = "prometheus_remote_storage_shards_desired"
    public static let remoteShardsMin = "prometheus_remote_storage_shards_min"
    public static let remoteShardsMax = "prometheus_remote_storage_shards_max"
    public static let remoteShardCapacity = "prometheus_remote_storage_shard_capacity"
    public static let remoteHighestSent = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
    public static let remoteSentBatchDuration = "prometheus_remote_storage_sent_batch_duration_seconds"
    /// Unlabelled: the newest timestamp appended to the WAL.
    public static let remoteHighestTimestamp = "prometheus_remote_storage_highest_timestamp_in_seconds"

    // Scraping and discovery.
    public static let sdDiscoveredTargets = "prometheus_sd_discovered_targets"
    public static let targetScrapesTotal = "outpost_target_scrapes_total"
    public static let targetScrapeFailures = "outpost_target_scrape_failures_total"
    public static let targets = "outpost_targets"
    public static let scrapeDuplicates = "prometheus_target_scrapes_sample_duplicate_timestamp_total"
    public static let scrapesExceededSampleLimit = "prometheus_target_scrapes_exceeded_sample_limit_total"
    public static let scrapeOutOfOrder = "prometheus_target_scrapes_sample_out_of_order_total"
    public static let scrapesExceededBodySizeLimit = "prometheus_target_scrapes_exceeded_body_size_limit_total"

    // WAL.
    public static let walSamplesAppended = "outpost_wal_samples_appended_total"
    public static let walSeriesCreated = "outpost_wal_series_created_total"
    public static let walBytesWritten = "outpost_wal_bytes_written_total"
    public static let walSegmentCurrent = "outpost_wal_segment_current"
    public static let walAppendFailures = "outpost_wal_append_failures_total"
    /// Samples of scrapes whose append failed (a full disk, say): the only samples lost before the WAL.
    public static let walAppendFailedSamples = "outpost_wal_append_failed_samples_total"
    /// Labelled {reason="disk_budget", remote_name}: samples an endpoint will never send.
    public static let walSamplesDropped = "outpost_wal_samples_dropped_total"
    public static let walCorruptions = "outpost_wal_corruptions_total"
    public static let walDiskBytes = "outpost_wal_disk_bytes"
    public static let walSyncs = "outpost_wal_fsyncs_total"

    // Process and configuration.
    public static let configLastReloadSuccessful = "prometheus_config_last_reload_successful"
    public static let configLastReloadSuccessTimestamp = "prometheus_config_last_reload_success_timestamp_seconds"
    public static let buildInfo = "outpost_build_info"
}

/// The registry `/metrics` renders. One per process; stages make their counters from it at start.
public typealias MetricsRegistry = PrometheusCollectorRegistry
public typealias CounterMetric = Counter
public typealias GaugeMetric = Gauge
public typealias HistogramMetric = ValueHistogram
public typealias DurationHistogramMetric = DurationHistogram

/// The build's identity, for `--version`, the User-Agent and `outpost_build_info`.
public enum BuildInfo {
    public static let version = "0.1.0"
    public static let userAgent = "Outpost/\(version)"
}
