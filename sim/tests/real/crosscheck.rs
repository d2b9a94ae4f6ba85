//! loadgen against h2load (nghttp2), an independent HTTP/2 load generator,
//! on the same StockData replica at the same concurrency. Without h2load
//! installed the test says so and passes, except under CI.

use crate::{exclusive, installed};
use sim::backend::real::crosscheck::{self, Load};
use std::time::Duration;
use stockdata::{ReplicaConfig, StockDataService};

#[test]
fn loadgen_and_h2load_agree_on_throughput_and_the_median() {
    if !installed(&["/usr/bin/h2load"], "nghttp2-client") {
        return;
    }
    let _one = exclusive();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // 8 workers, 5 ms each, 8 in flight: about 1,500 requests/s, each
        // ~5-6 ms (the service time and its timer's rounding).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let replica = StockDataService::new(ReplicaConfig::constant(
            "stockdata-0",
            Duration::from_millis(5),
            8,
        ))
        .expect("replica");
        tokio::spawn(stockdata::serve(listener, replica));
        let load = Load {
            concurrency: 8,
            duration: Duration::from_secs(4),
            warmup: Duration::from_secs(1),
        };
        let scratch = std::env::temp_dir().join(format!("meshsim-h2load-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).expect("scratch");
        let h2 = crosscheck::h2load(addr, load, &scratch)
            .await
            .expect("h2load");
        let lg = crosscheck::loadgen(addr, load).await.expect("loadgen");
        let _ = std::fs::remove_dir_all(&scratch);
        let report = format!("h2load {h2:?}\nloadgen {lg:?}");
        assert_eq!((h2.failed, lg.failed), (0, 0), "{report}");
        assert!(h2.requests > 1000 && lg.requests > 1000, "{report}");
        assert!(
            (h2.throughput - lg.throughput).abs() <= 0.10 * h2.throughput,
            "{report}"
        );
        assert!(
            (h2.p50_ms - lg.p50_ms).abs() <= 0.20 * h2.p50_ms,
            "{report}"
        );
    });
}
