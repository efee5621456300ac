//! MQTT topic rules, in one place: which topics TaylorDash ingests, what a valid subscription
//! filter is, whether a topic matches a filter (`+` one level, `#` the rest), the SQL `LIKE`
//! pattern that narrows a stored-event query to a filter, and where dead letters are announced.
//!
//! Pure functions over strings: the bus, storage and the HTTP layer all call these.

/// The topics TaylorDash ingests (its subscriptions on the broker).
pub const SUBSCRIPTIONS: &[&str] = &[
    "tracker/events/#",
    "tracker/commands/#",
    "tracker/metrics/#",
];

/// Does `topic` match one of the ingest [`SUBSCRIPTIONS`]?
pub fn ingested(topic: &str) -> bool {
    SUBSCRIPTIONS.iter().any(|filter| matches(filter, topic))
}

/// Is `filter` a valid MQTT topic filter: not empty, `+` only as a whole level, `#` only as the
/// whole last level?
pub fn valid_filter(filter: &str) -> bool {
    let last = filter.split('/').count() - 1;
    !filter.is_empty()
        && filter.split('/').enumerate().all(|(i, level)| match level {
            "#" => i == last,
            "+" => true,
            l => !l.contains(['#', '+']),
        })
}

/// Does `filter` contain a wildcard (`+` or `#`)? Without one it matches exactly one topic.
pub fn has_wildcards(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// Does `topic` match the MQTT subscription `filter` (`+` one level, `#` the rest, including
/// none: `a/#` matches `a`)?
pub fn matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Can some topic match both filters? (`+` one level, `#` the rest, as in [`matches`].)
pub fn filters_overlap(a: &str, b: &str) -> bool {
    let mut a = a.split('/');
    let mut b = b.split('/');
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// A SQL `LIKE` pattern (escape character `\`) that narrows a query to the topics `filter`
/// matches: each wildcard becomes `%`, and `LIKE`'s own wildcards (`%`, `_`) and the escape
/// character are escaped. A `%` spans levels, so a wildcard filter's rows still need
/// [`matches`]; a filter without wildcards matches exactly its one topic. A trailing `/#` also
/// matches its parent (`a/#` matches `a`), so it becomes a bare `%`.
pub fn like_pattern(filter: &str) -> String {
    let (head, tail) = match filter.strip_suffix("/#") {
        Some(head) => (head, "%"),
        None => (filter, ""),
    };
    let mut p = String::with_capacity(filter.len() + 1);
    for c in head.chars() {
        match c {
            '+' | '#' => p.push('%'),
            '%' | '_' | '\\' => {
                p.push('\\');
                p.push(c);
            }
            c => p.push(c),
        }
    }
    p.push_str(tail);
    p
}

/// Topics only admins may read, wherever events are shown (list, get, live stream): the audit
/// trail's events (`tracker/events/auth/...`), which name users, addresses and user agents.
pub fn admin_only(topic: &str) -> bool {
    topic.starts_with("tracker/events/auth/")
}

/// Is `topic` a metric event's (`tracker/metrics/<name>`), which becomes a time-series sample?
pub fn is_metric(topic: &str) -> bool {
    topic.starts_with("tracker/metrics/")
}

/// v1's dead-letter topic: `tracker/dlq/<original topic with / replaced by _>`.
pub fn dlq_topic(original: &str) -> String {
    format!("tracker/dlq/{}", original.replace('/', "_"))
}

/// `filter` as a member of the shared-subscription `group` (`$share/<group>/<filter>`): the
/// broker gives each message to one member of the group.
pub fn shared(group: &str, filter: &str) -> String {
    format!("$share/{group}/{filter}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal `LIKE` with escape character `\`, to check patterns against topics.
    fn like(pattern: &str, text: &str) -> bool {
        fn go(p: &[char], t: &[char]) -> bool {
            match p {
                [] => t.is_empty(),
                ['%', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
                ['_', rest @ ..] => !t.is_empty() && go(rest, &t[1..]),
                ['\\', c, rest @ ..] | [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
            }
        }
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        go(&p, &t)
    }

    #[test]
    fn overlapping_filters() {
        assert!(filters_overlap(
            "tracker/events/#",
            "tracker/events/lab/+/alive"
        ));
        assert!(filters_overlap("tracker/events/#", "+/events/x"));
        assert!(filters_overlap("tracker/events/#", "#"));
        assert!(filters_overlap("a/+/c", "a/b/+"));
        assert!(!filters_overlap("tracker/events/#", "zigbee2mqtt/#"));
        assert!(!filters_overlap("a/+", "a/b/c"));
    }

    #[test]
    fn validates_mqtt_filters() {
        for ok in ["#", "tracker/#", "tracker/+/x", "a/b/c", "+", "+/+", "a//b"] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in [
            "",
            "tracker/#/x",
            "a/#/b",
            "tra+cker",
            "a/b#",
            "#/a",
            "a/+b",
            "##",
        ] {
            assert!(!valid_filter(bad), "{bad}");
        }
    }

    #[test]
    fn mqtt_wildcards() {
        assert!(matches(
            "tracker/events/#",
            "tracker/events/projects/created"
        ));
        assert!(matches("tracker/#", "tracker"));
        assert!(matches("#", "anything/at/all"));
        assert!(matches(
            "tracker/events/+/created",
            "tracker/events/tasks/created"
        ));
        assert!(!matches(
            "tracker/events/+/created",
            "tracker/events/tasks/deleted"
        ));
        assert!(!matches("tracker/events/+", "tracker/events/tasks/created"));
        assert!(matches("tracker/+", "tracker/"), "+ matches an empty level");
        assert!(!matches("tracker/+", "tracker"), "+ needs a level");
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!has_wildcards("a/b") && has_wildcards("a/+") && has_wildcards("a/#"));
    }

    #[test]
    fn like_patterns_escape_and_narrow() {
        assert_eq!(like_pattern("tracker/+/x_y"), "tracker/%/x\\_y");
        assert_eq!(like_pattern("a/100%/#"), "a/100\\%%");
        assert_eq!(like_pattern("a\\b"), "a\\\\b");
        // Without wildcards the pattern is the topic itself, even with LIKE's metacharacters.
        for topic in ["tracker/x_y", "a/100%", "a\\b"] {
            assert!(like(&like_pattern(topic), topic), "{topic}");
        }
        assert!(!like(&like_pattern("tracker/x_y"), "tracker/xzy"));
        assert!(!like(&like_pattern("a/100%"), "a/1000"));
        // With wildcards it keeps every matching topic (and some others, which `matches` drops).
        for (filter, topic) in [
            ("tracker/events/#", "tracker/events/projects/created"),
            ("tracker/+/created", "tracker/tasks/created"),
            ("+/a_b/#", "x/a_b/c/d"),
        ] {
            assert!(matches(filter, topic) && like(&like_pattern(filter), topic));
        }
        assert!(like(&like_pattern("tracker/+"), "tracker/a/b"));
        assert!(!matches("tracker/+", "tracker/a/b"));
        // `a/#` matches its parent `a` too, so its pattern keeps it.
        assert!(matches("a/#", "a") && like(&like_pattern("a/#"), "a"));
        assert!(like(&like_pattern("a/#"), "a/b/c"));
    }

    #[test]
    fn ingested_topics() {
        assert!(ingested("tracker/events/projects/created"));
        assert!(ingested("tracker/commands/reboot"));
        assert!(ingested("tracker/metrics/cpu"));
        assert!(!ingested("tracker/dlq/x"));
        assert!(!ingested("elsewhere/x"));
    }

    #[test]
    fn metric_topics() {
        assert!(is_metric("tracker/metrics/cpu") && ingested("tracker/metrics/cpu"));
        assert!(!is_metric("tracker/metrics"));
        assert!(!is_metric("tracker/events/metrics/cpu"));
    }

    #[test]
    fn dlq_topic_flattens_the_original() {
        assert_eq!(
            dlq_topic("tracker/events/projects/created"),
            "tracker/dlq/tracker_events_projects_created"
        );
        assert!(
            !ingested(&dlq_topic("tracker/events/x")),
            "no feedback loop"
        );
    }

    #[test]
    fn shared_subscriptions() {
        assert_eq!(
            shared("taylordash", "tracker/events/#"),
            "$share/taylordash/tracker/events/#"
        );
    }
}
