//! The sidecar's HTTP/2 settings: what its listener advertises to the app,
//! and the windows of its connections to endpoints, per mesh release.
//!
//! A stream limit is a queue (see [`stockdata::transport::h2`]): the app's
//! one connection to its sidecar holds at most the sidecar's
//! `SETTINGS_MAX_CONCURRENT_STREAMS` requests, and the sidecar's connection
//! to a replica at most what the replica advertises. Both waits are timed
//! and reported; these are the limits each profile starts from.
//!
//! ## Default values
//! | profile | listener streams | stream window | connection window | source |
//! |---|---|---|---|---|
//! | `sidecar:*` (meshsim's proxy, hyper) | 200 | 1 MiB (client 2 MiB) | 1 MiB (client 5 MiB) | hyper `src/proto/h2/{server,client}.rs` |
//! | Linkerd stable 2.19 | unlimited | 65,535 | 1 MiB | linkerd2-proxy `linkerd/app/src/env.rs`, `linkerd/proxy/http/src/server.rs` |
//! | Istio 1.28+ (Envoy 1.36+) | 1,024 | 16 MiB | 24 MiB | Envoy `api/envoy/config/core/v3/protocol.proto` |
//! | Consul 1.21 (Envoy ≤ 1.35) | 2,147,483,647 | 256 MiB | 256 MiB | the same file before Envoy 1.36 |

use stockdata::transport::{ClientH2, ServerH2};

/// linkerd2-proxy's server stream limit: none. `LINKERD2_PROXY_{INBOUND,OUTBOUND}_SERVER_HTTP2_MAX_CONCURRENT_STREAMS`
/// is unset by default and the server passes `None` to hyper, removing
/// hyper's 200 (`linkerd/app/src/env/http2.rs`, `parse_server`;
/// `linkerd/proxy/http/src/server.rs`; settable since linkerd2-proxy#2924).
pub const LINKERD_MAX_CONCURRENT_STREAMS: Option<u32> = None;
/// linkerd2-proxy's initial stream window, 65,535 (HTTP/2's own default;
/// `DEFAULT_INITIAL_STREAM_WINDOW_SIZE`, `linkerd/app/src/env.rs`), for
/// its servers and clients alike.
pub const LINKERD_STREAM_WINDOW: u32 = 65_535;
/// linkerd2-proxy's initial connection window, 1 MiB
/// (`DEFAULT_INITIAL_CONNECTION_WINDOW_SIZE`, `linkerd/app/src/env.rs`).
pub const LINKERD_CONNECTION_WINDOW: u32 = 1024 * 1024;

/// Envoy's `Http2ProtocolOptions.max_concurrent_streams` default since
/// Envoy 1.36.0 (`api/envoy/config/core/v3/protocol.proto`; the 1.36.0
/// release notes, "safe_http2_options"). It was 2,147,483,647 before.
/// Istio sets none of its own (istio/istio#40009 removed its override).
pub const ENVOY_MAX_CONCURRENT_STREAMS: u32 = 1024;
/// Envoy's `initial_stream_window_size` default since 1.36.0: 16 MiB
/// (256 MiB before).
pub const ENVOY_STREAM_WINDOW: u32 = 16 * 1024 * 1024;
/// Envoy's `initial_connection_window_size` default since 1.36.0: 24 MiB
/// (256 MiB before).
pub const ENVOY_CONNECTION_WINDOW: u32 = 24 * 1024 * 1024;
/// Envoy's `max_concurrent_streams` default up to 1.35: 2³¹−1.
pub const ENVOY_1_35_MAX_CONCURRENT_STREAMS: u32 = (1 << 31) - 1;
/// Envoy's stream and connection window defaults up to 1.35: 256 MiB.
pub const ENVOY_1_35_WINDOW: u32 = 256 * 1024 * 1024;

/// A sidecar's HTTP/2 settings on both of its hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidecarH2 {
    /// What the outbound listener advertises to the app.
    pub listener: ServerH2,
    /// The windows of its connections to endpoints.
    pub endpoints: ClientH2,
    /// What the endpoints (StockData's servers) advertise; the endpoint
    /// connections' stream slots mirror it. Not a property of the mesh: the
    /// runner sets it from the servers' settings.
    pub endpoint_max_concurrent_streams: Option<u32>,
}

impl SidecarH2 {
    /// meshsim's own proxy: hyper's server and client defaults.
    pub const HYPER: Self = Self {
        listener: ServerH2::HYPER,
        endpoints: ClientH2::HYPER,
        endpoint_max_concurrent_streams: ServerH2::HYPER.max_concurrent_streams,
    };

    /// linkerd2-proxy (Linkerd stable 2.19).
    pub const LINKERD: Self = Self {
        listener: ServerH2 {
            max_concurrent_streams: LINKERD_MAX_CONCURRENT_STREAMS,
            initial_stream_window: LINKERD_STREAM_WINDOW,
            initial_connection_window: LINKERD_CONNECTION_WINDOW,
        },
        endpoints: ClientH2 {
            initial_stream_window: LINKERD_STREAM_WINDOW,
            initial_connection_window: LINKERD_CONNECTION_WINDOW,
        },
        ..Self::HYPER
    };

    /// Envoy 1.36+ (as Istio 1.28+ ships it).
    pub const ENVOY: Self = Self {
        listener: ServerH2 {
            max_concurrent_streams: Some(ENVOY_MAX_CONCURRENT_STREAMS),
            initial_stream_window: ENVOY_STREAM_WINDOW,
            initial_connection_window: ENVOY_CONNECTION_WINDOW,
        },
        endpoints: ClientH2 {
            initial_stream_window: ENVOY_STREAM_WINDOW,
            initial_connection_window: ENVOY_CONNECTION_WINDOW,
        },
        ..Self::HYPER
    };

    /// Envoy up to 1.35 (as Consul 1.21 supports it).
    pub const ENVOY_1_35: Self = Self {
        listener: ServerH2 {
            max_concurrent_streams: Some(ENVOY_1_35_MAX_CONCURRENT_STREAMS),
            initial_stream_window: ENVOY_1_35_WINDOW,
            initial_connection_window: ENVOY_1_35_WINDOW,
        },
        endpoints: ClientH2 {
            initial_stream_window: ENVOY_1_35_WINDOW,
            initial_connection_window: ENVOY_1_35_WINDOW,
        },
        ..Self::HYPER
    };
}

impl Default for SidecarH2 {
    fn default() -> Self {
        Self::HYPER
    }
}
