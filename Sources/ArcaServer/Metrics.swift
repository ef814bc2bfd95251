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
        batchSizes = registry.makeValueHistogram(name: "arca_group_commit_batch_size", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
                                                 help: "Operations committed together in one transaction (one fsync).")
        commitLatency = registry.makeDurationHistogram(name: "arca_audit_append_seconds", buckets: Self.latencyBuckets,
                                                       help: "A group commit's transaction: its operations, their audit records and the synced commit.")
        sealed = registry.makeGauge(name: "arca_vault_sealed", help: "1 while this server's vault is sealed, else 0.")
    }

    /// Counts one answered request and its latency.
    func record(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(name: "arca_http_requests_total",
                             labels: [("route", route), ("method", method), ("status", String(status))],
                             help: "HTTP requests answered, by route template, method and status.").increment()
        registry.makeDurationHistogram(name: "arca_http_request_duration_seconds", labels: [("route", route)],
                                       buckets: Self.latencyBuckets,
                                       help: "Time from the request's head to its answer, by route template.").record(duration)
    }

    /// The exposition text, with the seal state read now.
    func exposition(sealed isSealed: Bool) -> [UInt8] {
        sealed.set(Double(isSealed ? 1 : 0))
        return registry.emitToBuffer()
    }
}
