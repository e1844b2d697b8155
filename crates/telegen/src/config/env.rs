//! The OpenTelemetry environment variables, applied over the file (environment wins, as
//! the OpenTelemetry SDK environment-variable specification says for these):
//!
//! | variable | sets |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `agent.exporters.otlp.endpoint` (http/https URL) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `agent.exporters.otlp.protocol` (`grpc`, `http/protobuf`) |
//! | `OTEL_SERVICE_NAME` | `agent.service_name` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | merged into `agent.exporters.otlp.resource_attributes`, per key; its `service.name` sets `agent.service_name` unless `OTEL_SERVICE_NAME` is set |
//! | `OTEL_SEMCONV_STABILITY_OPT_IN` | `agent.network.http.semconv_stability_opt_in` (`http`, `http/dup`; other entries of the list ignored) |
//!
//! Empty values count as unset (as the specification asks). The process environment is
//! read only by the caller: tests pass a closure.

use super::error::ConfigError;
use super::model::{Config, HttpSemconv, OtlpProtocol};
use super::validate::endpoint_error;

impl Config {
    /// Apply the OTEL_* variables that `env` returns. Bad values are errors naming the
    /// variable; nothing is changed then.
    pub fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |var: &str| env(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let bad = |var: &str, value: &str, message: String| ConfigError::Env {
            var: var.to_string(),
            value: value.to_string(),
            message,
        };

        let endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(ep) = &endpoint {
            endpoint_error(ep).map_err(|m| bad("OTEL_EXPORTER_OTLP_ENDPOINT", ep, m))?;
        }
        let protocol = match get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            None => None,
            Some(p) => Some(match p.as_str() {
                "grpc" => OtlpProtocol::Grpc,
                "http/protobuf" => OtlpProtocol::HttpProtobuf,
                _ => {
                    return Err(bad(
                        "OTEL_EXPORTER_OTLP_PROTOCOL",
                        &p,
                        "supported values are grpc and http/protobuf".into(),
                    ))
                }
            }),
        };
        let attributes = match get("OTEL_RESOURCE_ATTRIBUTES") {
            None => Vec::new(),
            Some(raw) => parse_resource_attributes(&raw)
                .map_err(|m| bad("OTEL_RESOURCE_ATTRIBUTES", &raw, m))?,
        };
        let semconv = get("OTEL_SEMCONV_STABILITY_OPT_IN").and_then(|v| parse_semconv_opt_in(&v));

        let otlp = &mut self.agent.exporters.otlp;
        if let Some(ep) = endpoint {
            otlp.endpoint = Some(ep);
        }
        if let Some(p) = protocol {
            otlp.protocol = Some(p);
        }
        for (k, v) in attributes {
            if k == "service.name" {
                self.agent.service_name = Some(v.clone());
            }
            otlp.resource_attributes.insert(k, v);
        }
        if let Some(name) = get("OTEL_SERVICE_NAME") {
            self.agent.service_name = Some(name);
        }
        if let Some(s) = semconv {
            self.agent.network.http.semconv_stability_opt_in = s;
        }
        Ok(())
    }
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN` is a comma-separated list; `http/dup` wins over `http`.
/// `None` when it names neither.
pub fn parse_semconv_opt_in(v: &str) -> Option<HttpSemconv> {
    let items: Vec<&str> = v.split(',').map(str::trim).collect();
    if items.contains(&"http/dup") {
        Some(HttpSemconv::Dup)
    } else if items.contains(&"http") {
        Some(HttpSemconv::Stable)
    } else {
        None
    }
}

/// `key1=value1,key2=value2` (W3C Baggage-like, values percent-decoded). Any malformed
/// entry rejects the whole value, as the specification recommends.
pub fn parse_resource_attributes(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) =
            item.split_once('=').ok_or_else(|| format!("entry {item:?} is not key=value"))?;
        let k =
            percent_decode(k.trim()).ok_or_else(|| format!("bad percent-encoding in {item:?}"))?;
        let v =
            percent_decode(v.trim()).ok_or_else(|| format!("bad percent-encoding in {item:?}"))?;
        if k.is_empty() {
            return Err(format!("entry {item:?} has an empty key"));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_attributes() {
        let got = parse_resource_attributes("a=1, b = x%20y ,c=%E2%82%AC,").unwrap();
        let want =
            [("a", "1"), ("b", "x y"), ("c", "€")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(got, want);
        assert!(parse_resource_attributes("a=1,b").unwrap_err().contains("not key=value"));
        assert!(parse_resource_attributes("=1").unwrap_err().contains("empty key"));
        assert!(parse_resource_attributes("a=%zz").unwrap_err().contains("percent"));
        assert!(parse_resource_attributes("a=%4").unwrap_err().contains("percent"));
        assert_eq!(parse_resource_attributes("").unwrap(), vec![]);
    }

    #[test]
    fn semconv_list() {
        assert_eq!(parse_semconv_opt_in("http"), Some(HttpSemconv::Stable));
        assert_eq!(parse_semconv_opt_in("database, http/dup"), Some(HttpSemconv::Dup));
        assert_eq!(parse_semconv_opt_in("http,http/dup"), Some(HttpSemconv::Dup));
        assert_eq!(parse_semconv_opt_in("database"), None);
    }
}
