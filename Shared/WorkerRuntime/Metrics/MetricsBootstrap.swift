public import Prometheus

import Metrics

/// Installs swift-prometheus as the process's swift-metrics backend and owns the registry `/metrics` exposes.
///
/// Every `Counter`, `Timer`, `Gauge` or `Recorder` created through swift-metrics after ``bootstrap()`` lands
/// in ``registry``; histograms for `Timer`s use the Prometheus factory's default duration buckets.
public enum MetricsBootstrap {
    /// The registry of this process: what `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()

    /// Installs the Prometheus factory (once per process; later calls do nothing) and returns ``registry``.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        ProcessBootstrap.once(.metrics) {
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: self.registry))
        }
        return self.registry
    }
}
