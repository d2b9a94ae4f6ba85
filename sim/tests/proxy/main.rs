//! The sidecar data plane: policies against mock endpoints in paused time
//! (`dataplane`), and the whole proxy on real tokio sockets (`proxy_tokio`).
//!
//! One test binary per area: each links tonic, hyper and turmoil once.

mod dataplane;
mod h2_settings;
mod linkerd_retries;
mod profiles;
mod proxy_tokio;
