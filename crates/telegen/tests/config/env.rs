//! OTEL_* environment variables over the configuration file (environment wins). The
//! environment is passed as a closure; the process environment is never touched.

use std::collections::HashMap;
use telegen::config::{Config, ConfigError, HttpSemconv, OtlpProtocol};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| map.get(k).cloned()
}

const FILE: &str = "agent:\n  service_name: from-file\n  network:\n    http:\n      semconv_stability_opt_in: old\n  exporters:\n    otlp:\n      endpoint: http://10.0.0.1:4317\n      protocol: grpc\n      resource_attributes:\n        team: file\n        region: eu\n";

fn file_config() -> Config {
    Config::from_yaml_str(FILE, "env.yaml").unwrap()
}

#[test]
fn no_variables_change_nothing() {
    let mut c = file_config();
    c.apply_env(&env(&[])).unwrap();
    assert_eq!(c, file_config());
}

#[test]
fn empty_variables_count_as_unset() {
    let mut c = file_config();
    c.apply_env(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        ("OTEL_SERVICE_NAME", "  "),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", ""),
    ]))
    .unwrap();
    assert_eq!(c, file_config());
}

#[test]
fn every_variable_overrides_the_file() {
    let mut c = file_config();
    c.apply_env(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=env,host.name=node%201"),
        ("OTEL_SEMCONV_STABILITY_OPT_IN", "http"),
    ]))
    .unwrap();
    let o = &c.agent.exporters.otlp;
    assert_eq!(o.endpoint.as_deref(), Some("https://127.0.0.1:4318"));
    assert_eq!(o.protocol, Some(OtlpProtocol::HttpProtobuf));
    assert_eq!(c.agent.service_name.as_deref(), Some("from-env"));
    let attrs: Vec<(&str, &str)> =
        o.resource_attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        attrs,
        vec![("host.name", "node 1"), ("region", "eu"), ("team", "env")],
        "merged per key, env wins"
    );
    assert_eq!(c.agent.network.http.semconv_stability_opt_in, HttpSemconv::Stable);
    let e = c.effective();
    assert_eq!(e.service_name, "from-env");
    assert_eq!(e.http.semconv, HttpSemconv::Stable);
    let otlp = e.otlp.unwrap();
    assert_eq!(
        (otlp.endpoint.as_str(), otlp.protocol),
        ("https://127.0.0.1:4318", OtlpProtocol::HttpProtobuf)
    );
}

#[test]
fn endpoint_from_env_alone_turns_otlp_on() {
    let mut c = Config::default();
    c.apply_env(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")])).unwrap();
    let o = c.effective().otlp.expect("on");
    assert_eq!(o.protocol, OtlpProtocol::HttpProtobuf, "port 4318 means http/protobuf");
}

#[test]
fn semconv_dup() {
    let mut c = Config::default();
    c.apply_env(&env(&[("OTEL_SEMCONV_STABILITY_OPT_IN", "database,http/dup")])).unwrap();
    assert_eq!(c.effective().http.semconv, HttpSemconv::Dup);
    let mut c = file_config();
    c.apply_env(&env(&[("OTEL_SEMCONV_STABILITY_OPT_IN", "database")])).unwrap();
    assert_eq!(
        c.agent.network.http.semconv_stability_opt_in,
        HttpSemconv::Old,
        "no http entry: file value kept"
    );
}

#[test]
fn service_name_precedence() {
    // OTEL_RESOURCE_ATTRIBUTES' service.name beats the file...
    let mut c = file_config();
    c.apply_env(&env(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr")])).unwrap();
    assert_eq!(c.effective().service_name, "attr");
    // ...and OTEL_SERVICE_NAME beats both.
    let mut c = file_config();
    c.apply_env(&env(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr"),
        ("OTEL_SERVICE_NAME", "svc"),
    ]))
    .unwrap();
    assert_eq!(c.effective().service_name, "svc");
}

fn env_error(pairs: &[(&str, &str)]) -> (ConfigError, Config) {
    let mut c = file_config();
    let e = c.apply_env(&env(pairs)).unwrap_err();
    (e, c)
}

#[test]
fn bad_protocol_is_an_error_naming_the_variable() {
    let (e, c) =
        env_error(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), ("OTEL_SERVICE_NAME", "x")]);
    assert!(
        matches!(&e, ConfigError::Env { var, .. } if var == "OTEL_EXPORTER_OTLP_PROTOCOL"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\": supported values are grpc and http/protobuf"
    );
    assert_eq!(c, file_config(), "nothing applied on error");
}

#[test]
fn bad_endpoint_is_an_error_naming_the_variable() {
    let (e, _) = env_error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]);
    assert!(
        matches!(&e, ConfigError::Env { var, .. } if var == "OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{e:?}"
    );
}

#[test]
fn bad_resource_attributes_are_rejected_whole() {
    let (e, c) = env_error(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken")]);
    assert!(
        matches!(&e, ConfigError::Env { var, .. } if var == "OTEL_RESOURCE_ATTRIBUTES"),
        "{e:?}"
    );
    assert!(!c.agent.exporters.otlp.resource_attributes.contains_key("a"));
}

#[test]
fn resolve_applies_file_then_env_then_validates() {
    let dir = std::env::temp_dir().join(format!("telegen-config-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.yaml");
    std::fs::write(&path, FILE).unwrap();
    let c = Config::resolve(Some(&path), &env(&[("OTEL_SERVICE_NAME", "svc")])).unwrap();
    assert_eq!(c.agent.service_name.as_deref(), Some("svc"));
    assert_eq!(c.agent.exporters.otlp.endpoint.as_deref(), Some("http://10.0.0.1:4317"));
    let c = Config::resolve(None, &env(&[])).unwrap();
    assert_eq!(c, Config::default());
}
