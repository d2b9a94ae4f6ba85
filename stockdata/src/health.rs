//! `grpc.health.v1.Health` for a replica, as the gRPC health checking
//! protocol (grpc/grpc `doc/health-checking.md`) asks.
//!
//! tonic-health's service answers `Check` and `Watch` from a table of
//! service statuses; this wraps it where it departs from the protocol:
//!
//! - `Watch` on a service the server does not know ends the call with
//!   `NOT_FOUND` in tonic-health. The protocol says to send
//!   `SERVICE_UNKNOWN` and keep the stream open, sending the status once
//!   the service becomes known. Here it does. (`Check` on an unknown
//!   service stays `NOT_FOUND`, as the protocol says.)
//! - A `Watch` stream never ends by itself, so a graceful shutdown would
//!   wait for every watcher until its drain timeout. [`HealthReporter::drain`]
//!   sends `NOT_SERVING` on every open stream and ends them, as a server
//!   going away should.

use futures::{Stream, StreamExt, stream};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_check_response::ServingStatus as Wire;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// Sets the statuses a [`HealthService`] reports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthReporter {
    inner: tonic_health::server::HealthReporter,
    /// Bumped after every status change, for watchers of unknown services.
    changes: Arc<watch::Sender<u64>>,
    draining: Arc<watch::Sender<bool>>,
}

/// A reporter and the service it drives (the overall status, `""`,
/// starts `SERVING`).
pub fn health_reporter() -> (HealthReporter, HealthServer<HealthService>) {
    let inner = tonic_health::server::HealthReporter::new();
    let reporter = HealthReporter {
        inner: inner.clone(),
        changes: Arc::new(watch::Sender::new(0)),
        draining: Arc::new(watch::Sender::new(false)),
    };
    let service = HealthService {
        inner: Arc::new(tonic_health::server::HealthService::from_health_reporter(
            inner,
        )),
        changes: reporter.changes.subscribe(),
        draining: reporter.draining.subscribe(),
    };
    (reporter, HealthServer::new(service))
}

impl HealthReporter {
    /// Reports the service `S` as `SERVING`.
    pub async fn set_serving<S: NamedService>(&self) {
        self.set_service_status(S::NAME, ServingStatus::Serving)
            .await;
    }

    /// Reports the service `S` as `NOT_SERVING`.
    pub async fn set_not_serving<S: NamedService>(&self) {
        self.set_service_status(S::NAME, ServingStatus::NotServing)
            .await;
    }

    /// Reports `service`'s status; watchers hear of it.
    pub async fn set_service_status(&self, service: &str, status: ServingStatus) {
        self.inner.set_service_status(service, status).await;
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The server is going away: every `Watch` stream, open or opened from
    /// now on, gets `NOT_SERVING` and ends, so that watchers do not hold
    /// up a graceful shutdown. `Check` answers as before.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }
}

/// The `grpc.health.v1.Health` service (see the [module docs](self)).
#[derive(Debug)]
pub struct HealthService {
    inner: Arc<tonic_health::server::HealthService>,
    changes: watch::Receiver<u64>,
    draining: watch::Receiver<bool>,
}

/// A `Watch` call's answers.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

fn response(status: Wire) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let service = request.get_ref().service.clone();
        // Seen before looking, so a registration after the look wakes us.
        let mut changes = self.changes.clone();
        changes.mark_unchanged();
        let answers: WatchStream = match self.inner.watch(request).await {
            Ok(known) => Box::pin(known.into_inner()),
            Err(status) if status.code() == Code::NotFound => {
                Box::pin(unknown(service, self.inner.clone(), changes))
            }
            Err(status) => return Err(status),
        };
        let mut draining = self.draining.clone();
        let drained = async move {
            // An error: the reporter is gone, so no drain will come.
            if draining.wait_for(|d| *d).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let last = stream::once(async { Ok(response(Wire::NotServing)) });
        Ok(Response::new(Box::pin(
            answers.take_until(drained).chain(last),
        )))
    }
}

/// `SERVICE_UNKNOWN`, then, once `service` is registered, its statuses.
fn unknown(
    service: String,
    inner: Arc<tonic_health::server::HealthService>,
    mut changes: watch::Receiver<u64>,
) -> impl Stream<Item = Result<HealthCheckResponse, Status>> + Send {
    let known = async move {
        loop {
            if changes.changed().await.is_err() {
                // No reporter left: the service stays unknown.
                std::future::pending::<()>().await;
            }
            let request = Request::new(HealthCheckRequest {
                service: service.clone(),
            });
            if let Ok(known) = inner.watch(request).await {
                return known.into_inner();
            }
        }
    };
    stream::once(async { Ok(response(Wire::ServiceUnknown)) }).chain(stream::once(known).flatten())
}
