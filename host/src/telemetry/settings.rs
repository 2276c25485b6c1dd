//! What trace export is set to, from `[telemetry]` and the standard `OTEL_*` variables
//! (which win, as the OpenTelemetry specification has them win over code).

use opentelemetry_sdk::trace::Sampler;

use crate::config::{SAMPLERS, TelemetryConfig};

/// Trace export, resolved; only made when an endpoint is set.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The OTLP endpoint as configured.
    pub endpoint: String,
    /// Where HTTP exports go: `endpoint` plus `/v1/traces`, except for the traces-only
    /// variable, which names the whole URL (as the OTLP exporter specification has it).
    pub http_url: String,
    /// gRPC instead of HTTP/protobuf.
    pub grpc: bool,
    pub service_name: String,
    /// The sampler's name and ratio, as configured (for the log line).
    pub sampler_name: String,
    pub sampler_ratio: f64,
    /// Resource attributes beyond the service's name, version and instance.
    pub attributes: Vec<(String, String)>,
    /// Finished spans waiting for export.
    pub queue: usize,
}

/// The variable if set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl Settings {
    /// Trace export as `config` and the environment set it; `None` when no endpoint is set
    /// anywhere (traces off) or `OTEL_SDK_DISABLED` is `true`. A value neither understands is
    /// reported on stderr and the default used: traces are an operator's aid, never a reason
    /// not to serve.
    pub(crate) fn resolve(config: &TelemetryConfig) -> Option<Self> {
        Self::resolve_with(config, env)
    }

    /// [`resolve`](Self::resolve) with the variables read through `var`.
    fn resolve_with(config: &TelemetryConfig, var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        let (endpoint, http_url) = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(full) => (full.clone(), full),
            None => {
                let base = var("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| config.endpoint.clone())?;
                let url = format!("{}/v1/traces", base.trim_end_matches('/'));
                (base, url)
            }
        };
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .or_else(|| config.protocol.clone())
            .unwrap_or_else(|| "http/protobuf".to_owned());
        let grpc = match protocol.as_str() {
            "grpc" => true,
            "http/protobuf" => false,
            other => {
                eprintln!("berth: ignoring OTLP protocol {other:?}: berth exports http/protobuf or grpc");
                false
            }
        };
        let service_name =
            var("OTEL_SERVICE_NAME").or_else(|| config.service_name.clone()).unwrap_or_else(|| "berth".to_owned());
        let mut sampler_name = var("OTEL_TRACES_SAMPLER")
            .or_else(|| config.sampler.clone())
            .unwrap_or_else(|| "parentbased_always_on".to_owned());
        if !SAMPLERS.contains(&sampler_name.as_str()) {
            eprintln!("berth: ignoring trace sampler {sampler_name:?}: using parentbased_always_on");
            sampler_name = "parentbased_always_on".to_owned();
        }
        let sampler_ratio = match var("OTEL_TRACES_SAMPLER_ARG").map(|arg| arg.parse::<f64>()) {
            Some(Ok(ratio)) if (0.0..=1.0).contains(&ratio) => ratio,
            Some(_) => {
                eprintln!("berth: ignoring OTEL_TRACES_SAMPLER_ARG: a ratio is a number from 0 to 1");
                config.sampler_arg.unwrap_or(1.0)
            }
            None => config.sampler_arg.unwrap_or(1.0),
        };
        let mut attributes: Vec<(String, String)> =
            config.resource_attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        // Standard syntax: `key=value,key=value`, values percent-encoded; later keys win.
        for pair in var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default().split(',') {
            if let Some((key, value)) = pair.split_once('=') {
                let key = key.trim().to_owned();
                attributes.retain(|(k, _)| *k != key);
                attributes.push((key, percent_decode(value.trim())));
            }
        }
        Some(Self {
            endpoint,
            http_url,
            grpc,
            service_name,
            sampler_name,
            sampler_ratio,
            attributes,
            queue: config.queue,
        })
    }

    /// The sampler the settings name (parent-based unless named otherwise).
    pub(crate) fn sampler(&self) -> Sampler {
        let ratio = Sampler::TraceIdRatioBased(self.sampler_ratio);
        match self.sampler_name.as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => ratio,
            "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            "parentbased_traceidratio" => Sampler::ParentBased(Box::new(ratio)),
            _ => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        }
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = value.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Settings, percent_decode};
    use crate::config::TelemetryConfig;

    fn resolve(config: &TelemetryConfig, vars: &[(&str, &str)]) -> Option<Settings> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::resolve_with(config, |name| vars.get(name).cloned())
    }

    #[test]
    fn resource_attribute_values_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b%2Cc"), "a b,c");
        assert_eq!(percent_decode("100%"), "100%", "a lone percent stays");
    }

    #[test]
    fn traces_are_off_without_an_endpoint_or_when_the_sdk_is_disabled() {
        let config = TelemetryConfig::default();
        assert!(resolve(&config, &[]).is_none());
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
        assert!(resolve(&config, &on).is_some());
        assert!(resolve(&config, &[on[0], ("OTEL_SDK_DISABLED", "true")]).is_none());
    }

    #[test]
    fn the_variables_win_over_the_table() {
        let config = TelemetryConfig {
            endpoint: Some("http://table:4318/".into()),
            sampler: Some("traceidratio".into()),
            sampler_arg: Some(0.5),
            resource_attributes: [("team".to_owned(), "tools".to_owned())].into(),
            ..TelemetryConfig::default()
        };
        let from_table = resolve(&config, &[]).expect("on");
        assert_eq!(from_table.http_url, "http://table:4318/v1/traces");
        assert_eq!((from_table.sampler_name.as_str(), from_table.sampler_ratio), ("traceidratio", 0.5));
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.01"),
            ("OTEL_SERVICE_NAME", "tools-gateway"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=agents,region=eu%2Dwest"),
        ];
        let from_env = resolve(&config, &vars).expect("on");
        assert!(from_env.grpc);
        assert_eq!(from_env.endpoint, "http://env:4317");
        assert_eq!((from_env.sampler_name.as_str(), from_env.sampler_ratio), ("parentbased_traceidratio", 0.01));
        assert_eq!(from_env.service_name, "tools-gateway");
        let attributes: HashMap<_, _> = from_env.attributes.into_iter().collect();
        assert_eq!(attributes["team"], "agents", "the variable's value replaces the table's");
        assert_eq!(attributes["region"], "eu-west");
    }

    #[test]
    fn the_traces_endpoint_is_the_whole_url_and_bad_values_fall_back() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom/path"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ];
        let settings = resolve(&TelemetryConfig::default(), &vars).expect("on");
        assert_eq!(settings.http_url, "http://traces:9999/custom/path");
        assert_eq!(settings.sampler_name, "parentbased_always_on");
        assert_eq!(settings.sampler_ratio, 1.0);
        assert!(!settings.grpc);
    }
}
