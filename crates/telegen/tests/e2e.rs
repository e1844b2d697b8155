//! End to end, as a user runs it: the `telegen` binary with real kernel programs against
//! real servers and clients (nginx, dnsmasq, curl, dig, Python, tonic), a real Prometheus
//! and an OTLP receiver: TCP connections (`agent_tcp`), DNS (`dns`), HTTP/1.x (`http`),
//! HTTP/2 and gRPC (`http2`, `grpc_tonic`), OTLP export (`otlp`).
//!
//! Needs root (it loads BPF programs), the system packages .ci/run installs, and
//! TELEGEN_PYTHON (scripts/test.sh sets it); fails loudly without them. Tests of different
//! modules never run at the same time (`common::root::root_test`).

mod common;

#[path = "e2e/agent_tcp.rs"]
mod agent_tcp;
#[path = "e2e/dns.rs"]
mod dns;
#[path = "e2e/grpc_tonic.rs"]
mod grpc_tonic;
#[path = "e2e/http.rs"]
mod http;
#[path = "e2e/http2.rs"]
mod http2;
#[path = "e2e/otlp.rs"]
mod otlp;
