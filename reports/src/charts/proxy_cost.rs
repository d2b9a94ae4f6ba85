//! What each proxy adds to p50 and p99 over the direct path, by offered
//! load (`meshsim bench --real`).

use super::Figure;
use super::latency::Lines;
use super::sweep::draw_panels;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Added latency by offered rate, one line per proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyCostChart {
    /// Per proxy: (offered requests/s, added p50 ms).
    pub added_p50: Lines,
    /// Per proxy: (offered requests/s, added p99 ms).
    pub added_p99: Lines,
}

impl Figure for ProxyCostChart {
    fn name(&self) -> String {
        "proxy-cost".into()
    }

    fn title(&self) -> String {
        "latency each proxy adds over the direct path".into()
    }

    fn size(&self) -> (u32, u32) {
        (super::WIDTH, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_panels(
            root,
            &self.title(),
            "offered load (requests/s)",
            &[
                ("added p50 (ms)", self.added_p50.clone()),
                ("added p99 (ms)", self.added_p99.clone()),
            ],
        )
    }
}
