//! Status vocabularies. v1 let every layer invent its own; here each resource has exactly one,
//! validated at the edge and enforced again by CHECK constraints in both databases.

/// A status string that is not part of the vocabulary; names the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not one of: {allowed}")]
pub struct UnknownStatus {
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vattr:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vattr])* $variant),+
        }

        impl $name {
            /// Every value, in lifecycle order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const ALLOWED: &'static str = concat!($($text, " "),+);

            /// The wire and database spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownStatus {
                        value: s.to_owned(),
                        allowed: Self::ALLOWED.trim_end(),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use status_enum;

status_enum!(
    /// Lifecycle of a project.
    ProjectStatus {
        #[default]
        Planning => "planning",
        Active => "active",
        OnHold => "on_hold",
        Completed => "completed",
        Archived => "archived",
    }
);

status_enum!(
    /// Progress state of a component on the canvas.
    ComponentStatus {
        #[default]
        Pending => "pending",
        InProgress => "in_progress",
        Blocked => "blocked",
        Completed => "completed",
    }
);

status_enum!(
    /// Workflow state of a task; `done` sets `completed_at`.
    TaskStatus {
        #[default]
        Todo => "todo",
        InProgress => "in_progress",
        Review => "review",
        Done => "done",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_value() {
        for s in ProjectStatus::ALL {
            assert_eq!(s.as_str().parse::<ProjectStatus>(), Ok(*s));
        }
        for s in ComponentStatus::ALL {
            assert_eq!(s.as_str().parse::<ComponentStatus>(), Ok(*s));
        }
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
        }
    }

    #[test]
    fn unknown_value_names_the_vocabulary() {
        let err = "inactive".parse::<ProjectStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "'inactive' is not one of: planning active on_hold completed archived"
        );
    }
}
