//! gRPC errors synthesised by the proxy.
//!
//! When the proxy cannot reach any endpoint the application must still get a
//! well-formed gRPC answer, not a reset stream: a "trailers-only" response
//! (HTTP 200, `content-type: application/grpc`, `grpc-status` and
//! `grpc-message` in the headers), as Linkerd and Envoy send.

use super::body::Buffered;
use http::{HeaderValue, Response};

/// The header naming why the proxy answered on the server's behalf.
pub const PROXY_ERROR_HEADER: &str = "meshsim-proxy-error";

/// A trailers-only gRPC response with `code` (numeric gRPC status).
pub fn response(code: tonic::Code, message: &str) -> Response<Buffered> {
    let mut response = Response::new(Buffered::empty());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(code as i32));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", value.clone());
        headers.insert(PROXY_ERROR_HEADER, value);
    }
    response
}

/// gRPC's `grpc-message` encoding: printable ASCII except `%` as is,
/// everything else as `%XX` of its UTF-8 bytes.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_grpc() {
        assert_eq!(
            percent_encode("no endpoints: 100% down"),
            "no endpoints: 100%25 down"
        );
        assert_eq!(percent_encode("é\n"), "%C3%A9%0A");
    }

    #[test]
    fn trailers_only_unavailable() {
        let r = response(tonic::Code::Unavailable, "down");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["grpc-status"], "14");
        assert_eq!(r.headers()["grpc-message"], "down");
        assert_eq!(r.headers()["content-type"], "application/grpc");
    }
}
