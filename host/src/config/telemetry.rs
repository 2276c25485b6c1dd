//! The `[telemetry]` settings: traces over OTLP. Off unless an endpoint is configured here or
//! in the standard `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The samplers berth knows, by their `OTEL_TRACES_SAMPLER` names.
pub const SAMPLERS: [&str; 6] = [
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "always_on",
    "always_off",
    "traceidratio",
];

/// Where and how traces are exported; every key has an `OTEL_*` variable that wins over it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TelemetryConfig {
    /// The collector's OTLP endpoint, e.g. `http://127.0.0.1:4318` (HTTP) or
    /// `http://127.0.0.1:4317` (gRPC); `OTEL_EXPORTER_OTLP_ENDPOINT`. Unset: no traces.
    pub endpoint: Option<String>,
    /// `http/protobuf` (default) or `grpc`; `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub protocol: Option<String>,
    /// The `service.name` resource attribute [default: berth]; `OTEL_SERVICE_NAME`.
    pub service_name: Option<String>,
    /// `parentbased_always_on` (default), `parentbased_traceidratio`, `traceidratio`,
    /// `always_on`, `always_off` or `parentbased_always_off`; `OTEL_TRACES_SAMPLER`.
    pub sampler: Option<String>,
    /// The ratio of a `*traceidratio` sampler, 0 to 1 [default: 1]; `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler_arg: Option<f64>,
    /// More resource attributes; `OTEL_RESOURCE_ATTRIBUTES` (`key=value,…`) adds to them.
    pub resource_attributes: BTreeMap<String, String>,
    /// Finished spans waiting to be exported; when the collector is slow or gone, more are
    /// dropped (and counted in `/metrics`), never waited for.
    pub queue: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            protocol: None,
            service_name: None,
            sampler: None,
            sampler_arg: None,
            resource_attributes: BTreeMap::new(),
            queue: 4096,
        }
    }
}

impl TelemetryConfig {
    /// Refuses values no exporter or sampler understands, naming the key.
    pub fn validate(&self) -> Result<()> {
        if let Some(protocol) = &self.protocol
            && !matches!(protocol.as_str(), "http/protobuf" | "grpc")
        {
            return Err(Error::Config(format!(
                "telemetry.protocol {protocol:?}: berth exports OTLP as \"http/protobuf\" or \"grpc\""
            )));
        }
        if let Some(sampler) = &self.sampler
            && !SAMPLERS.contains(&sampler.as_str())
        {
            return Err(Error::Config(format!("telemetry.sampler {sampler:?}: berth knows {}", SAMPLERS.join(", "))));
        }
        if let Some(ratio) = self.sampler_arg
            && !(0.0..=1.0).contains(&ratio)
        {
            return Err(Error::Config(format!("telemetry.sampler_arg {ratio} must be between 0 and 1")));
        }
        if self.queue == 0 {
            return Err(Error::Config("telemetry.queue must be at least 1".into()));
        }
        Ok(())
    }
}
