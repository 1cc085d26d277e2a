import OutpostConfig
import OutpostModel

/// The encode-and-compress half of an endpoint, usable on its own (the benchmarks measure it):
/// series and metadata in, snappy-compressed remote-write requests out, in either protocol.
public struct WriteRequestBuilder {
    private var labels: SeriesLabelCache
    private var v1 = WriteRequestEncoder()
    private var v2 = WriteRequestV2Encoder()
    /// The size of the last request before compression.
    public private(set) var uncompressedCount = 0

    public init(format: RemoteWriteConfig.ProtobufMessage, externalLabels: Labels = .empty) {
        labels = SeriesLabelCache(externalLabels: externalLabels, format: format)
    }

    public mutating func addSeries(_ ref: SeriesRef, _ l: Labels) { labels.add(ref, l) }
    public mutating func addMetadata(_ m: MetricMetadata) { labels.addMetadata(m) }

    /// Encodes `samples` as one request and compresses it into `out`; returns the samples encoded.
    @discardableResult
    public mutating func build(_ samples: [Sample], into out: inout [UInt8]) -> Int {
        let encoded: Int
        switch labels.format {
        case .v1:
            encoded = v1.encode(samples, labels: labels).encoded
            Snappy.compress(v1.buffer, into: &out)
            uncompressedCount = v1.buffer.count
        case .v2:
            encoded = v2.encode(samples, labels: labels).encoded
            Snappy.compress(v2.buffer, into: &out)
            uncompressedCount = v2.buffer.count
        }
        return encoded
    }
}
