//! loadgen against an independent load generator: h2load (nghttp2).
//!
//! Both drive the same StockData replica's `Get` over one HTTP/2
//! connection with the same number of requests in flight (a closed loop:
//! each finished request is replaced at once), for the same time after the
//! same warm-up. h2load sends a pre-encoded gRPC message (the 5-byte
//! length prefix, then the protobuf `GetRequest`) with the headers gRPC
//! needs; loadgen sends through tonic, as StockWeb does. If loadgen's
//! accounting or recording were wrong (a lost request, a latency measured
//! from the wrong instant), the two would disagree on throughput or on the
//! median.

use loadgen::{Issue, Ledger, Summary, Think, Workload};
use prost::Message;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use stockdata::pb::GetRequest;
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::{TokioConnect, connector_to};

/// Where Debian's nghttp2-client installs h2load.
pub const H2LOAD: &str = "h2load";

/// What one generator measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Requests completed in the measured window.
    pub requests: u64,
    /// Of which failed (non-200 for h2load; a gRPC error for loadgen).
    pub failed: u64,
    /// Requests per second over the window.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// The load both generators offer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Requests in flight at once (HTTP/2 streams on the one connection).
    pub concurrency: u32,
    /// Measured window.
    pub duration: Duration,
    /// Time before the window, not measured.
    pub warmup: Duration,
}

/// A gRPC message frame holding `GetRequest { id }`: flag 0 (not
/// compressed), a 4-byte big-endian length, the protobuf bytes.
pub fn grpc_get_body(id: i32) -> Vec<u8> {
    let message = GetRequest { id }.encode_to_vec();
    let mut body = Vec::with_capacity(5 + message.len());
    body.push(0);
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    body
}

/// Runs h2load against `addr` and reads its results (throughput from its
/// summary, percentiles from its per-request log).
pub async fn h2load(addr: SocketAddr, load: Load, scratch: &Path) -> io::Result<Measured> {
    let body = scratch.join("get.bin");
    std::fs::write(&body, grpc_get_body(2))?;
    let log = scratch.join("h2load.log");
    let output = tokio::process::Command::new(H2LOAD)
        .args(["-c", "1", "-m", &load.concurrency.to_string()])
        .args(["-D", &format!("{}", load.duration.as_secs_f64())])
        .args(["--warm-up-time", &format!("{}", load.warmup.as_secs_f64())])
        .arg("-d")
        .arg(&body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg("--log-file")
        .arg(&log)
        .arg(format!("http://{addr}/stockdata.v1.Stocks/Get"))
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("running {H2LOAD}: {e} (apt-get install nghttp2-client)"),
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(io::Error::other(format!("{H2LOAD} failed: {stdout}")));
    }
    parse(&stdout, &std::fs::read_to_string(&log)?, load.duration)
}

/// Reads h2load's summary and per-request log (`start µs \t status \t
/// duration µs` per line, nghttp2's `--log-file` format).
pub fn parse(stdout: &str, log: &str, window: Duration) -> io::Result<Measured> {
    let bad = |what: &str| io::Error::other(format!("h2load output without {what}: {stdout}"));
    // "requests: 10000 total, 10000 started, 10000 done, 9999 succeeded, 1 failed, ..."
    let line = stdout
        .lines()
        .find(|l| l.starts_with("requests:"))
        .ok_or_else(|| bad("a requests line"))?;
    let count = |label: &str| -> Option<u64> {
        line.split(',')
            .find(|part| part.trim().ends_with(label))?
            .split_whitespace()
            .next()?
            .trim_start_matches("requests:")
            .trim()
            .parse()
            .ok()
    };
    let done = count("done").ok_or_else(|| bad("a done count"))?;
    let failed = count("failed").unwrap_or(0);
    let mut latency = loadgen::LatencyRecorder::new();
    for fields in log.lines().map(|l| l.split('\t').collect::<Vec<_>>()) {
        if let Some(us) = fields.get(2).and_then(|d| d.trim().parse::<u64>().ok()) {
            latency.record_us(us);
        }
    }
    let s = latency.summary();
    Ok(Measured {
        requests: done,
        failed,
        throughput: done as f64 / window.as_secs_f64(),
        p50_ms: s.p50,
        p99_ms: s.p99,
    })
}

/// Runs meshsim's loadgen against `addr` the same way: a closed loop of
/// `concurrency` users without think time on one tonic channel.
pub async fn loadgen(addr: SocketAddr, load: Load) -> io::Result<Measured> {
    let workload = Workload {
        issue: Issue::Closed {
            user_seeds: (0..u64::from(load.concurrency)).collect(),
            think: Think::Constant(Duration::ZERO),
        },
        duration: load.warmup + load.duration,
        drain: Duration::from_secs(5),
    };
    let summary = drive_gets(addr, workload, load.warmup).await?;
    let s = summary.corrected.summary();
    Ok(Measured {
        requests: summary.measured,
        failed: summary.failed,
        throughput: summary.measured as f64 / load.duration.as_secs_f64(),
        p50_ms: s.p50,
        p99_ms: s.p99,
    })
}

/// Runs `workload` of StockData `Get`s (id 2) against `addr` over one
/// HTTP/2 connection (a tonic channel) and sums it up from `warmup` on.
pub async fn drive_gets(
    addr: SocketAddr,
    workload: Workload,
    warmup: Duration,
) -> io::Result<Summary> {
    let channel = tonic::transport::Endpoint::from_static("http://stockdata:50051")
        .connect_with_connector(connector_to(TokioConnect, addr))
        .await
        .map_err(io::Error::other)?;
    let client = StocksClient::new(channel);
    let ledger = Ledger::new();
    loadgen::run(workload, &ledger, move |_| {
        let mut client = client.clone();
        async move {
            client
                .get(GetRequest { id: 2 })
                .await
                .map(|_| ())
                .map_err(|s| s.to_string())
        }
    })
    .await
    .map_err(io::Error::other)?;
    let never_sent = ledger.never_sent();
    Ok(Summary::of(&ledger.take(), warmup).with_never_sent(never_sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grpc_frame_is_prefix_then_protobuf() {
        // GetRequest { id: 2 }: field 1, varint 2 = 0x08 0x02.
        assert_eq!(grpc_get_body(2), [0, 0, 0, 0, 2, 0x08, 0x02]);
    }

    #[test]
    fn h2loads_summary_and_log_parse() {
        let stdout = "finished in 2.00s, 500.00 req/s, 1MB/s\n\
                      requests: 1000 total, 1000 started, 1000 done, 998 succeeded, 2 failed, 0 errored, 0 timeout\n";
        let log = "1700000000000000\t200\t1000\n1700000000000100\t200\t3000\n1700000000000200\t200\t2000\n";
        let m = parse(stdout, log, Duration::from_secs(2)).expect("parses");
        assert_eq!((m.requests, m.failed), (1000, 2));
        assert_eq!(m.throughput, 500.0);
        assert_eq!(m.p50_ms, 2.0);
    }
}
