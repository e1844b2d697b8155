//! An OTLP/gRPC receiver for tests, built on the official opentelemetry-proto service
//! definitions: it records every metric name, span and log record it is sent, with the
//! resource attributes, so tests can assert what the agent exported.

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct GotSpan {
    pub name: String,
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub trace_id: Vec<u8>,
    pub attrs: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
}

/// One received log record, flattened.
#[derive(Debug, Clone)]
pub struct GotLog {
    pub event_name: String,
    pub time_ns: u64,
    pub attrs: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
}

#[derive(Default, Debug)]
pub struct Received {
    /// Metric name -> number of data points seen, over all exports.
    pub metrics: BTreeMap<String, usize>,
    /// Metric name -> the last value of each point, keyed by its attributes rendered.
    pub metric_values: BTreeMap<String, BTreeMap<String, f64>>,
    pub metric_resource: BTreeMap<String, String>,
    pub spans: Vec<GotSpan>,
    pub logs: Vec<GotLog>,
    pub metric_exports: usize,
}

#[derive(Clone, Default)]
pub struct Receiver(pub Arc<Mutex<Received>>);

pub fn value_str(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|x| value_str(&Some(x.clone()))).collect();
            format!("[{}]", items.join(","))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter().map(|kv| (kv.key.clone(), value_str(&kv.value))).collect()
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        req: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};
        let mut g = self.0.lock().unwrap();
        g.metric_exports += 1;
        for rm in req.into_inner().resource_metrics {
            if let Some(r) = &rm.resource {
                g.metric_resource = attrs(&r.attributes);
            }
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    let mut points: Vec<(String, f64)> = Vec::new();
                    match &m.data {
                        Some(Data::Sum(s)) => {
                            for p in &s.data_points {
                                let v = match p.value {
                                    Some(Value::AsInt(i)) => i as f64,
                                    Some(Value::AsDouble(d)) => d,
                                    None => 0.0,
                                };
                                points.push((format!("{:?}", attrs(&p.attributes)), v));
                            }
                        }
                        Some(Data::Gauge(s)) => {
                            for p in &s.data_points {
                                let v = match p.value {
                                    Some(Value::AsInt(i)) => i as f64,
                                    Some(Value::AsDouble(d)) => d,
                                    None => 0.0,
                                };
                                points.push((format!("{:?}", attrs(&p.attributes)), v));
                            }
                        }
                        Some(Data::Histogram(h)) => {
                            for p in &h.data_points {
                                points
                                    .push((format!("{:?}", attrs(&p.attributes)), p.count as f64));
                            }
                        }
                        _ => {}
                    }
                    *g.metrics.entry(m.name.clone()).or_default() += points.len();
                    let e = g.metric_values.entry(m.name.clone()).or_default();
                    for (k, v) in points {
                        e.insert(k, v);
                    }
                }
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut g = self.0.lock().unwrap();
        for rs in req.into_inner().resource_spans {
            let res = rs.resource.as_ref().map(|r| attrs(&r.attributes)).unwrap_or_default();
            for ss in rs.scope_spans {
                for s in ss.spans {
                    g.spans.push(GotSpan {
                        name: s.name.clone(),
                        kind: s.kind,
                        start_ns: s.start_time_unix_nano,
                        end_ns: s.end_time_unix_nano,
                        trace_id: s.trace_id.clone(),
                        attrs: attrs(&s.attributes),
                        resource: res.clone(),
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let mut g = self.0.lock().unwrap();
        for rl in req.into_inner().resource_logs {
            let res = rl.resource.as_ref().map(|r| attrs(&r.attributes)).unwrap_or_default();
            for sl in rl.scope_logs {
                for l in sl.log_records {
                    g.logs.push(GotLog {
                        event_name: l.event_name.clone(),
                        time_ns: l.time_unix_nano,
                        attrs: attrs(&l.attributes),
                        resource: res.clone(),
                    });
                }
            }
        }
        Ok(Response::new(ExportLogsServiceResponse { partial_success: None }))
    }
}

/// A running receiver on its own runtime thread; dropped = stopped.
pub struct OtlpReceiver {
    pub addr: SocketAddr,
    pub got: Receiver,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OtlpReceiver {
    pub fn start(addr: SocketAddr) -> OtlpReceiver {
        let got = Receiver::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let g = got.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener =
                    tokio::net::TcpListener::bind(addr).await.expect("binding the OTLP receiver");
                ready_tx.send(()).unwrap();
                let incoming = tonic::transport::server::TcpIncoming::from(listener);
                tonic::transport::Server::builder()
                    .add_service(MetricsServiceServer::new(g.clone()))
                    .add_service(TraceServiceServer::new(g.clone()))
                    .add_service(LogsServiceServer::new(g))
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        ready_rx.recv().unwrap();
        OtlpReceiver { addr, got, stop: Some(tx), thread: Some(thread) }
    }

    pub fn snapshot<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        f(&self.got.0.lock().unwrap())
    }

    /// Waits until `pred` holds on what was received, or panics after `timeout`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: std::time::Duration,
        pred: impl Fn(&Received) -> bool,
    ) {
        let t0 = std::time::Instant::now();
        while !self.snapshot(&pred) {
            assert!(
                t0.elapsed() < timeout,
                "OTLP receiver: {what} did not arrive in {timeout:?}; got {:#?}",
                self.snapshot(|r| (
                    r.metrics.keys().cloned().collect::<Vec<_>>(),
                    r.spans.len(),
                    r.logs.len()
                ))
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
