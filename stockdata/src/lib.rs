/*!
StockData: the gRPC service of the seed's demo.

`stockdata.v1.Stocks/Get` answers one stock of the NASDAQ-100 by id; every
answer (and every error) carries the serving replica's pod name in the
`server-id` header, which is how meshsim sees where each request went. A
replica queues requests FIFO behind a fixed number of worker slots and spends
a service time drawn from its own seeded RNG on each.

The crate also holds [`transport`], the listener/connector/resolver seam that
lets every service in meshsim run on real sockets and on turmoil alike (and
[`transport::AnyAuthority`], which lets hyper serve requests whose
`:authority` it would refuse); [`health`], `grpc.health.v1` as the gRPC
health checking protocol has it; and [`timer`], the seam between the
simulator's service times (tokio's virtual clock) and real mode's (a precise
timer: [`StockDataService::with_timer`]).

```no_run
# async fn demo() -> std::io::Result<()> {
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
let replica = StockDataService::new(ReplicaConfig {
    pod: "stockdata-0".into(),
    service_time: ServiceTime::Constant(std::time::Duration::from_millis(2)),
    concurrency: 8,
    seed: 1,
    demand_seed: 0,
    honor_cancellation: true,
    queue_bound: None,
    slowdown: 1.0,
    load_reports: false,
}).expect("valid config");
let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
stockdata::serve(listener, replica).await
# }
```
*/
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod data;
pub mod faults;
pub mod health;
pub mod orca;
pub mod program;
pub mod service;
pub mod service_time;
pub mod spec;
pub mod timer;
pub mod transport;
mod work;

/// Generated protobuf and gRPC code for `stockdata.v1`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("stockdata.v1");
}

pub use service::{
    REQUEST_ID_HEADER, ReplicaConfig, ReplicaControl, ReplicaError, ReplicaTimes, SERVER_ID_HEADER,
    StockDataService,
};
pub use service_time::ServiceTime;
pub use timer::ServiceTimer;

use tonic::service::Routes;

/// The canonical gRPC name of a status code (`NOT_FOUND`, …), as used in
/// reports and metrics. It lives here, in the lowest crate, so that the
/// app, the proxy and the reports all spell codes the same way.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether `code` is a server error: the gRPC statuses Envoy maps to HTTP
/// 5xx (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`,
/// `UNAVAILABLE`, `DATA_LOSS`). The sidecar's failure classification and
/// pin-until-error both key off it; `RESOURCE_EXHAUSTED` (429) and the
/// caller's own errors (`NOT_FOUND`, `INVALID_ARGUMENT`) are not.
pub fn is_server_error(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
    )
}

/// The replica's gRPC routes: `stockdata.v1.Stocks` plus `grpc.health.v1`
/// reporting the Stocks service as serving.
pub async fn routes(replica: StockDataService) -> Routes {
    routes_with_health(replica).await.0
}

/// [`routes`], and the reporter of their health service (to report
/// `NOT_SERVING`, or to [`drain`](health::HealthReporter::drain) on
/// shutdown).
pub async fn routes_with_health(replica: StockDataService) -> (Routes, health::HealthReporter) {
    let (reporter, health) = health::health_reporter();
    reporter
        .set_serving::<pb::stocks_server::StocksServer<StockDataService>>()
        .await;
    let routes = match replica.load_window() {
        Some(window) => Routes::new(orca::LoadReporting::new(replica.into_server(), window)),
        None => Routes::new(replica.into_server()),
    };
    (routes.add_service(health), reporter)
}

/// Serves a replica (Stocks + health) on `listener` until accepting fails.
pub async fn serve<L: transport::Listener>(
    listener: L,
    replica: StockDataService,
) -> std::io::Result<()> {
    serve_with(listener, replica, transport::ServerH2::HYPER).await
}

/// [`serve`], advertising `h2` (stream limit and windows).
pub async fn serve_with<L: transport::Listener>(
    listener: L,
    replica: StockDataService,
    h2: transport::ServerH2,
) -> std::io::Result<()> {
    let routes = routes(replica).await;
    // Any `:authority`, as every gRPC server accepts (see AnyAuthority).
    let listener = transport::AnyAuthorityListener::new(listener);
    transport::serve_http2_with(listener, routes, h2).await
}
