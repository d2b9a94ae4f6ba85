//! A written event ([`RawEvent`]) into a [`TimelineEvent`]: only the keys
//! its kind takes, read by the kind's module (see `kinds`), and `every`
//! and `count`.

use super::fields::Fields;
use super::{EventError, MAX_OCCURRENCES, RawEvent, Repeat, TimelineEvent};

impl TryFrom<RawEvent> for TimelineEvent {
    type Error = EventError;

    fn try_from(raw: RawEvent) -> Result<Self, EventError> {
        let f = Fields { raw: &raw };
        if let Some((key, _)) = raw
            .keys_written()
            .iter()
            .find(|(k, set)| *set && !raw.kind.keys().contains(k))
        {
            return Err(f.invalid(key, "this event takes no such key"));
        }
        let action = raw.kind.read(&f)?;
        let repeat = repeat(&f)?;
        Ok(TimelineEvent {
            at: raw.at.0,
            repeat,
            action,
            written: raw,
        })
    }
}

/// `every` and `count`.
fn repeat(f: &Fields<'_>) -> Result<Option<Repeat>, EventError> {
    match (f.raw.every, f.raw.count) {
        (Some(every), _) if every.0.is_zero() => {
            Err(f.invalid("every", "expected a duration above 0"))
        }
        (_, Some(0)) => Err(f.invalid("count", "expected at least 1")),
        (_, Some(c)) if c > MAX_OCCURRENCES => Err(f.invalid(
            "count",
            &format!("{c}; expected at most {MAX_OCCURRENCES} (occurrences in the whole timeline)"),
        )),
        (None, Some(c)) if c > 1 => Err(f.invalid("every", "is required when count > 1")),
        (Some(every), count) => Ok(Some(Repeat {
            every: every.0,
            count: count.unwrap_or(1),
        })),
        (None, _) => Ok(None),
    }
}
