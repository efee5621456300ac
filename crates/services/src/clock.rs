//! The time source services read "now" from.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The time source; replaceable in tests to move past expiries and lockouts.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(domain::now))
    }

    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// Now, truncated to microseconds (see [`domain::now`]).
    pub fn now(&self) -> DateTime<Utc> {
        domain::truncate_to_micros((self.0)())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}
