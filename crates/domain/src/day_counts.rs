//! A check's runs of the last 24 hours, hour by hour ([`DayCounts`]). The store keeps them beside
//! the check's state and moves them with each result, so a project's overview (the canvas, the
//! dashboard) reads one row per check instead of its 24 hourly buckets.

use chrono::{DateTime, Utc};

use crate::CheckStatus;

/// Hours held: the current one and the 23 before it.
pub const DAY_HOURS: usize = 24;

/// The runs of one hour: those that were up or degraded, and all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HourCount {
    pub good: i64,
    pub all: i64,
}

impl HourCount {
    /// `good / all`, or `None` without runs.
    pub fn ratio(self) -> Option<f64> {
        (self.all > 0).then(|| self.good as f64 / self.all as f64)
    }
}

impl std::ops::AddAssign for HourCount {
    fn add_assign(&mut self, other: HourCount) {
        self.good += other.good;
        self.all += other.all;
    }
}

/// The runs of the 24 hours up to the newest one recorded, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayCounts {
    /// The start of the newest hour held (UTC); `None` while nothing is recorded.
    pub newest: Option<DateTime<Utc>>,
    /// Oldest first; the last is the hour starting at `newest`.
    pub hours: [HourCount; DAY_HOURS],
}

/// The start of the hour `at` falls in (UTC).
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(3600) * 3600;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

impl DayCounts {
    /// Counts `runs` of one hour (up or degraded: `good` of them); a run older than the 24
    /// hours held is dropped, a newer hour moves the window on.
    pub fn add(&mut self, at: DateTime<Utc>, count: HourCount) {
        let hour = hour_of(at);
        let newest = match self.newest {
            Some(newest) if hour <= newest => newest,
            Some(newest) => {
                let moved = (hour - newest).num_hours();
                match usize::try_from(moved) {
                    Ok(k) if k < DAY_HOURS => {
                        self.hours.rotate_left(k);
                        for slot in &mut self.hours[DAY_HOURS - k..] {
                            *slot = HourCount::default();
                        }
                    }
                    _ => self.hours = Default::default(),
                }
                self.newest = Some(hour);
                hour
            }
            None => {
                self.newest = Some(hour);
                hour
            }
        };
        if let Ok(back) = usize::try_from((newest - hour).num_hours())
            && back < DAY_HOURS
        {
            self.hours[DAY_HOURS - 1 - back] += count;
        }
    }

    /// Counts one run's status (`unknown` is no run).
    pub fn record(&mut self, at: DateTime<Utc>, status: CheckStatus) {
        let good = match status {
            CheckStatus::Up | CheckStatus::Degraded => 1,
            CheckStatus::Down => 0,
            CheckStatus::Unknown => return,
        };
        self.add(at, HourCount { good, all: 1 });
    }

    /// The 24 hours ending with the one `now` falls in, oldest first: hours the counts do not
    /// hold (too old, or not reached yet) are empty.
    pub fn window(&self, now: DateTime<Utc>) -> [HourCount; DAY_HOURS] {
        let mut out = [HourCount::default(); DAY_HOURS];
        let Some(newest) = self.newest else {
            return out;
        };
        // Slot `i` holds the hour `DAY_HOURS - 1 - i` before `newest`, which is `i - moved`
        // in a window whose last hour is `moved` hours after `newest` (both are hour starts;
        // an hour after `now`, from a clock that went back, is left out).
        let moved = (hour_of(now) - newest).num_hours();
        for (i, count) in self.hours.iter().enumerate() {
            if let Ok(j) = usize::try_from(i as i64 - moved)
                && j < DAY_HOURS
            {
                out[j] = *count;
            }
        }
        out
    }

    /// The stored text: `good/all` per hour, oldest first, separated by spaces.
    pub fn encode(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(DAY_HOURS * 6);
        for (i, h) in self.hours.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{}/{}", h.good, h.all);
        }
        out
    }

    /// Reads what [`DayCounts::encode`] wrote (an empty text: nothing recorded): 24
    /// `good/all` pairs of decimal digits separated by single spaces. Read byte by byte, as a
    /// project's overview decodes one per check.
    pub fn decode(newest: Option<DateTime<Utc>>, text: &str) -> Result<DayCounts, String> {
        let mut counts = DayCounts {
            newest,
            ..Default::default()
        };
        if text.is_empty() {
            return Ok(counts);
        }
        let bad = || format!("hourly counts {text:?} are not 24 good/all pairs");
        if newest.is_none() {
            return Err(bad());
        }
        let bytes = text.as_bytes();
        let mut at = 0;
        // The digits at `at` up to `end`, which must follow them.
        let number = |at: &mut usize, end: Option<u8>| -> Option<i64> {
            let start = *at;
            let mut n: i64 = 0;
            while let Some(&b) = bytes.get(*at) {
                if !b.is_ascii_digit() {
                    break;
                }
                n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
                *at += 1;
            }
            if *at == start || bytes.get(*at).copied() != end {
                return None;
            }
            *at += 1;
            Some(n)
        };
        for (i, slot) in counts.hours.iter_mut().enumerate() {
            let good = number(&mut at, Some(b'/')).ok_or_else(bad)?;
            let last = i == DAY_HOURS - 1;
            let all = number(&mut at, if last { None } else { Some(b' ') }).ok_or_else(bad)?;
            *slot = HourCount { good, all };
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn runs_land_in_their_hour_and_the_window_moves_on() {
        let mut d = DayCounts::default();
        d.record(at("2026-12-07T10:05:00Z"), CheckStatus::Up);
        d.record(at("2026-12-07T10:59:59Z"), CheckStatus::Down);
        d.record(at("2026-12-07T11:00:00Z"), CheckStatus::Degraded);
        // A late result of an earlier hour still counts there.
        d.record(at("2026-12-07T10:30:00Z"), CheckStatus::Up);
        d.record(at("2026-12-07T11:10:00Z"), CheckStatus::Unknown);
        assert_eq!(d.newest, Some(at("2026-12-07T11:00:00Z")));
        let w = d.window(at("2026-12-07T11:30:00Z"));
        assert_eq!(w[23], HourCount { good: 1, all: 1 });
        assert_eq!(w[22], HourCount { good: 2, all: 3 });
        assert_eq!(w[..22], [HourCount::default(); 22]);
        // Seen 23 hours later, the 10:00 hour is the oldest; a day later it is gone.
        let later = d.window(at("2026-12-08T09:00:00Z"));
        assert_eq!(later[0], HourCount { good: 2, all: 3 });
        assert_eq!(later[1], HourCount { good: 1, all: 1 });
        assert_eq!(
            d.window(at("2026-12-08T10:00:00Z"))[0],
            HourCount { good: 1, all: 1 }
        );
        assert_eq!(
            d.window(at("2026-12-09T11:00:00Z")),
            [HourCount::default(); 24]
        );
        // Recording after a gap moves the ring; after a whole day nothing old is left.
        d.record(at("2026-12-07T13:00:00Z"), CheckStatus::Up);
        assert_eq!(d.hours[21], HourCount { good: 1, all: 1 });
        assert_eq!(d.hours[20], HourCount { good: 2, all: 3 });
        d.record(at("2026-12-08T20:00:00Z"), CheckStatus::Down);
        assert_eq!(d.hours[..23], [HourCount::default(); 23]);
        assert_eq!(d.hours[23], HourCount { good: 0, all: 1 });
        // Older than the ring holds: dropped.
        d.record(at("2026-12-07T20:00:00Z"), CheckStatus::Up);
        assert_eq!(d.hours.iter().map(|h| h.all).sum::<i64>(), 1);
    }

    /// The window as defined hour by hour (what `window` computes with one subtraction).
    fn window_by_hour(d: &DayCounts, now: DateTime<Utc>) -> [HourCount; DAY_HOURS] {
        let mut out = [HourCount::default(); DAY_HOURS];
        let Some(newest) = d.newest else { return out };
        let current = hour_of(now);
        for (i, count) in d.hours.iter().enumerate() {
            let at = newest - Duration::hours((DAY_HOURS - 1 - i) as i64);
            if let Ok(back) = usize::try_from((current - at).num_hours())
                && back < DAY_HOURS
            {
                out[DAY_HOURS - 1 - back] = *count;
            }
        }
        out
    }

    #[test]
    fn the_window_is_the_hours_before_now() {
        let mut d = DayCounts::default();
        for h in 0..24 {
            d.add(
                at("2026-12-07T00:00:00Z") + Duration::hours(h),
                HourCount {
                    good: h,
                    all: h + 1,
                },
            );
        }
        for offset in -30..60 {
            let now = at("2026-12-07T23:40:00Z") + Duration::hours(offset);
            assert_eq!(d.window(now), window_by_hour(&d, now), "{offset} h");
        }
        assert_eq!(
            d.window(at("2026-12-07T23:59:59Z"))[23],
            HourCount { good: 23, all: 24 }
        );
    }

    #[test]
    fn the_text_round_trips_and_bad_text_is_refused() {
        let mut d = DayCounts::default();
        assert_eq!(DayCounts::decode(None, ""), Ok(DayCounts::default()));
        for h in 0..30 {
            d.record(
                at("2026-12-07T00:00:00Z") + Duration::hours(h),
                CheckStatus::Up,
            );
        }
        d.record(at("2026-12-08T05:00:00Z"), CheckStatus::Down);
        let text = d.encode();
        assert!(text.ends_with(" 1/1 1/2"), "{text}");
        assert_eq!(DayCounts::decode(d.newest, &text), Ok(d.clone()));
        assert!(DayCounts::decode(d.newest, "1/1 2/2").is_err());
        assert!(DayCounts::decode(None, &text).is_err());
        assert!(DayCounts::decode(d.newest, &text.replace("1/2", "x/2")).is_err());
        assert!(DayCounts::decode(d.newest, &format!("{text} 0/0")).is_err());
        for bad in [
            "", " ", "1/", "/1", "1//1", "-1/2", "+1/2", "1/2 ", " 1/2", "1/2  3/4",
        ] {
            let text = std::iter::repeat_n("0/0", 23)
                .chain([bad])
                .collect::<Vec<_>>()
                .join(" ");
            if !bad.is_empty() {
                assert!(DayCounts::decode(d.newest, &text).is_err(), "{text:?}");
            }
        }
        let big = format!("{} 99999999999999999999/1", vec!["0/0"; 23].join(" "));
        assert!(DayCounts::decode(d.newest, &big).is_err());
        let max = format!("{} {}/{}", vec!["0/0"; 23].join(" "), i64::MAX, i64::MAX);
        assert_eq!(
            DayCounts::decode(d.newest, &max).map(|c| c.hours[23].all),
            Ok(i64::MAX)
        );
    }
}
