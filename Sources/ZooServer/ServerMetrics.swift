import Prometheus
import ZooServing
import ZooTensor

/// What `GET /metrics` reports, in Prometheus's text format: requests by model, endpoint and status; request
/// latency; batch sizes and durations; queue depth; requests arriving.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private static var requests: MetricNameDescriptor { MetricNameDescriptor(namespace: "zoo", metricName: "requests", unitName: "total",
                                                       helpText: "Requests answered, by model, endpoint and HTTP status.") }
    private static var latency: MetricNameDescriptor { MetricNameDescriptor(namespace: "zoo", metricName: "request_duration", unitName: "seconds",
                                                      helpText: "Time from a request's arrival to its answer.") }
    private static var batchSize: MetricNameDescriptor { MetricNameDescriptor(namespace: "zoo", metricName: "batch_size", unitName: "samples",
                                                        helpText: "Samples per batch the network ran (before padding).") }
    private static var batchDuration: MetricNameDescriptor { MetricNameDescriptor(namespace: "zoo", metricName: "batch_duration", unitName: "seconds",
                                                            helpText: "Time a batch took, by phase: preparing its inputs (decoding images), running the network.") }
    private static var queueDepth: MetricNameDescriptor { MetricNameDescriptor(namespace: "zoo", metricName: "queue_depth", unitName: "samples",
                                                         helpText: "Samples waiting for a batch.") }
    private static var arriving: MetricNameDescriptor { MetricNameDescriptor(namespace: "zoo", metricName: "requests_arriving",
                                                       helpText: "Requests whose head has arrived and which are not queued yet (their batch waits for them).") }

    func request(model: String, endpoint: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: Self.requests, labels: [("model", model), ("endpoint", endpoint), ("status", String(status))]).increment()
        registry.makeValueHistogram(descriptor: Self.latency, labels: [("model", model), ("endpoint", endpoint)], buckets: Self.latencyBuckets)
            .record(seconds)
    }

    func batch(model: String, _ batch: BatchingPredictor.Batch) {
        registry.makeValueHistogram(descriptor: Self.batchSize, labels: [("model", model)], buckets: [1, 2, 4, 8, 16, 24, 32, 64, 128])
            .record(Double(batch.samples))
        for (phase, duration) in [("prepare", batch.preparation), ("run", batch.duration)] {
            registry.makeValueHistogram(descriptor: Self.batchDuration, labels: [("model", model), ("phase", phase)], buckets: Self.latencyBuckets)
                .record(duration.inSeconds)
        }
    }

    /// The metrics as text, with each model's queue depth and arriving requests read now.
    func text(queues: [(model: String, depth: Int, arriving: Int)]) -> String {
        for (model, depth, arriving) in queues {
            registry.makeGauge(descriptor: Self.queueDepth, labels: [("model", model)]).set(Double(depth))
            registry.makeGauge(descriptor: Self.arriving, labels: [("model", model)]).set(Double(arriving))
        }
        return registry.emitToString()
    }
}
