//! The Prometheus scrape endpoint: OpenMetrics text over the agent's registry, served by
//! axum on the configured address and path.

use anyhow::Context;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Renders the registry as OpenMetrics text.
pub fn render(reg: &Registry) -> String {
    let mut s = String::with_capacity(16 * 1024);
    if let Err(e) = encode(&mut s, reg) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    s
}

/// Binds the endpoint's address (`run` does this before loading the kernel programs, so a
/// taken port fails at once, not after the load).
pub async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("agent.exporters.prometheus.listen: bad address {listen:?}"))?;
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "binding the Prometheus endpoint on {addr} (another address or port: \
                 agent.exporters.prometheus.listen)"
        )
    })
}

/// Serves `registry` on `listener` (from [`bind`]) at `path` until the task is aborted;
/// returns the bound address (useful with port 0) and the server task.
pub fn serve(
    registry: Arc<Registry>,
    listener: tokio::net::TcpListener,
    path: &str,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let bound = listener.local_addr()?;
    let reg = registry.clone();
    let app = Router::new()
        .route(
            path,
            get(move || {
                let reg = reg.clone();
                async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&reg)).into_response() }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "telegen: metrics are served on the configured path\n") });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "Prometheus endpoint stopped");
        }
    });
    Ok((bound, task))
}
