//! What the real programs (`stockdata`, `stockweb`, `meshsim proxy`) share:
//! one-line logfmt logs on stderr, flag parsing that fails in one line with
//! exit code 2, binding a listener with a clear error, and the shutdown
//! signal (SIGTERM or Ctrl-C).
//!
//! Nothing here runs in the simulator: these are the wall-clock edges of a
//! process.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Exit code for bad flags, a malformed address or a port in use.
pub const USAGE_EXIT: u8 = 2;

/// Parses the command line; on a usage error prints ONE line (`error: …`)
/// to stderr and exits 2. `--help` and `--version` print and exit 0.
pub fn parse_args<P: clap::Parser>() -> P {
    match P::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            fail(&format!("{} (see --help)", usage_line(&e)));
            std::process::exit(i32::from(USAGE_EXIT))
        }
    }
}

/// A clap error in one line: its first paragraph (the message and, say,
/// the missing arguments), without the `error: ` prefix, usage or tips.
pub fn usage_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = paragraph.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    if line.is_empty() {
        "bad arguments".to_string()
    } else {
        line
    }
}

/// Prints `error: message` on stderr; returns exit code 2.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE_EXIT)
}

/// Binds a TCP listener, or says in one line why not (`flag` names the
/// option the address came from).
pub async fn bind(addr: SocketAddr, flag: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} ({flag}): {e}"))
}

/// Completes on SIGTERM or Ctrl-C (SIGINT), naming the signal.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                warn("cannot watch SIGTERM; only Ctrl-C stops", &[("error", &e)]);
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Displays an optional value, `-` for `None` (for log fields).
pub struct DisplayOpt<T>(pub Option<T>);

impl<T: Display> Display for DisplayOpt<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// Logs an `info` event.
pub fn info(msg: &str, fields: &[(&str, &dyn Display)]) {
    log("info", msg, fields);
}

/// Logs a `warn` event.
pub fn warn(msg: &str, fields: &[(&str, &dyn Display)]) {
    log("warn", msg, fields);
}

/// Logs an `error` event.
pub fn error(msg: &str, fields: &[(&str, &dyn Display)]) {
    log("error", msg, fields);
}

/// Writes one logfmt line to stderr:
/// `ts=2025-01-02T03:04:05.678Z level=info msg="…" key=value …`.
pub fn log(level: &str, msg: &str, fields: &[(&str, &dyn Display)]) {
    let line = logfmt_line(&timestamp(), level, msg, fields);
    // One write per line, so lines from concurrent tasks do not interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A logfmt line (with its newline).
pub fn logfmt_line(ts: &str, level: &str, msg: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut line = format!("ts={ts} level={level} msg={}", quote(msg));
    for (key, value) in fields {
        let _ = write!(line, " {key}={}", quote(&value.to_string()));
    }
    line.push('\n');
    line
}

/// A logfmt value: bare if it can be, else double-quoted with escapes.
fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
    if bare {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Now, as RFC 3339 UTC with milliseconds.
fn timestamp() -> String {
    // A log line's time is the wall clock by definition; these programs are
    // real processes, never simulated, so the simulator's ban does not apply.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quotes_what_needs_it() {
        let addr: SocketAddr = ([127, 0, 0, 1], 50051).into();
        let line = logfmt_line(
            "T",
            "info",
            "ready",
            &[
                ("listen", &addr),
                ("pod", &"a b"),
                ("q", &"x\"y"),
                ("e", &""),
            ],
        );
        assert_eq!(
            line,
            "ts=T level=info msg=ready listen=127.0.0.1:50051 pod=\"a b\" q=\"x\\\"y\" e=\"\"\n"
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_735_787_045, 678), "2025-01-02T03:04:05.678Z");
    }
}
