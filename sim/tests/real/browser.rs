//! The seed's page in a real browser: `meshsim demo --real` serves both
//! StockWebs; headless Chromium (Debian's; `.ci/run` installs it) loads each
//! page. The cached-DNS page's Server column shows one replica 100 times,
//! the sidecar page shows both, 50 and 50.
//!
//! Without Chromium the test says so and passes, except under CI (`CI`
//! set), where a missing browser is a failure.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in ["/usr/bin", "/usr/local/bin"] {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is not installed; .ci/run installs it (apt-get install chromium)");
    }
    eprintln!("skipping: chromium not installed (apt-get install chromium)");
    None
}

/// The demo process, killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo on free ports; returns it and its two URLs.
fn start_demo() -> (Demo, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["demo", "--real", "--web-port", "0", "--for", "120s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("meshsim demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let mut urls = BTreeMap::new();
    for line in BufReader::new(stdout).lines().take(2) {
        let line = line.expect("a line");
        let (page, url) = line.split_once(':').expect("page: url");
        urls.insert(page.trim().to_string(), url.trim().to_string());
    }
    (demo, urls["cached-dns"].clone(), urls["sidecar"].clone())
}

/// Chromium's DOM of `url` after load, and a screenshot of it in `shot`.
fn load(browser: &Path, url: &str, work: &Path, shot: &Path) -> String {
    let run = |extra: &[String]| {
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
            ])
            .arg(format!(
                "--user-data-dir={}",
                work.join("profile").display()
            ))
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = run(&["--dump-dom".to_string()]);
    run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=900,1400".to_string(),
    ]);
    dom
}

/// The Server column of the page's table, counted.
fn servers(dom: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in dom.split("<tr>").skip(2) {
        let cells: Vec<&str> = row
            .split("<td>")
            .skip(1)
            .filter_map(|c| c.split("</td>").next())
            .collect();
        if let Some(server) = cells.get(2) {
            *counts.entry(server.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn the_demo_pages_in_chromium_show_one_replica_pinned_and_two_balanced() {
    let Some(browser) = chromium() else { return };
    let _one = crate::exclusive();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-browser");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("scratch");
    let (_demo, cached, sidecar) = start_demo();

    let dom = load(&browser, &cached, &work, &work.join("cached-dns.png"));
    assert!(dom.contains("NASDAQ 100"), "{dom}");
    let pinned = servers(&dom);
    assert_eq!(pinned.len(), 1, "cached DNS: {pinned:?}");
    assert_eq!(pinned.values().sum::<usize>(), 100, "{pinned:?}");

    let dom = load(&browser, &sidecar, &work, &work.join("sidecar.png"));
    let balanced = servers(&dom);
    assert_eq!(
        balanced,
        BTreeMap::from([
            ("stockdata-0".to_string(), 50),
            ("stockdata-1".to_string(), 50)
        ]),
        "sidecar"
    );
    for shot in ["cached-dns.png", "sidecar.png"] {
        let png = std::fs::read(work.join(shot)).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}");
    }
}
