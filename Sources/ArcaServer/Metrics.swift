import ArcaVault
import Foundation
import Hummingbird
import Prometheus

/// The server's Prometheus metrics (`GET /metrics`, text exposition format): requests by route template, method
/// and status, their latency, the group commit's batch sizes and how long a batch's transaction (its audit
/// records appended and the commit synced) took, and whether the vault is sealed. Labels are route templates
/// (`/secrets/{name}`), never a secret's or a person's name.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let batchSizes: ValueHistogram
    let commitLatency: DurationHistogram
    let sealed: Gauge

    static let latencyBuckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                             .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                             .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                             .seconds(1), .seconds(2.5), .seconds(5)]

    init() {
        batchSizes = registry.makeValueHistogram(
            descriptor: Self.name("group_commit_batch", "size", "Operations committed together in one transaction (one fsync)."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
        commitLatency = registry.makeDurationHistogram(
            descriptor: Self.name("audit_append", "seconds", "A group commit's transaction: its operations, their audit records and the synced commit."),
            buckets: Self.latencyBuckets)
        sealed = registry.makeGauge(descriptor: Self.name("vault_sealed", "", "1 while this server's vault is sealed, else 0."))
    }

    /// Counts one answered request and its latency.
    func record(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.requestDuration, labels: [("route", route)], buckets: Self.latencyBuckets)
            .record(duration)
    }

    /// `arca_<metric>_<unit>` (no unit: `arca_<metric>`).
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "arca", metricName: metric, unitName: unit, helpText: help)
    }
    static var requests: MetricNameDescriptor { name("http_requests", "total", "HTTP requests answered, by route template, method and status.") }
    static var requestDuration: MetricNameDescriptor { name("http_request_duration", "seconds", "Time from the request's head to its answer, by route template.") }

    /// The exposition text, with the seal state read now.
    func exposition(sealed isSealed: Bool) -> [UInt8] {
        sealed.set(Double(isSealed ? 1 : 0))
        return registry.emitToBuffer()
    }
}
