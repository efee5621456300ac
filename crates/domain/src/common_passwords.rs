//! Screening of new passwords against a breached-password list: the 12,048 passwords of the
//! SecLists "10 million passwords" lists that are long enough to pass the length rule, embedded
//! as raw deflate (91 KB; see `data/make_common_passwords.py`). Inflated on first use, then a
//! binary search: well under a millisecond per check.

use std::sync::OnceLock;

static LIST: &[u8] = include_bytes!("../data/common_passwords.deflate");

/// The inflated list (sorted, lowercased, one per line) and where each entry starts.
struct Sorted {
    text: String,
    starts: Vec<u32>,
}

impl Sorted {
    fn load() -> Sorted {
        // The list is built into the binary: failing to read it is a build defect, caught by
        // the tests below, so an empty list here only means no screening beyond the rules.
        let text = miniz_oxide::inflate::decompress_to_vec(LIST)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default();
        let mut starts = vec![0u32];
        starts.extend(
            text.match_indices('\n')
                .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        Sorted { text, starts }
    }

    fn entry(&self, i: usize) -> &str {
        let start = self.starts[i] as usize;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.text.len(), |&next| next as usize - 1);
        &self.text[start..end]
    }

    fn len(&self) -> usize {
        if self.text.is_empty() {
            0
        } else {
            self.starts.len()
        }
    }

    fn contains(&self, lowered: &str) -> bool {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid).cmp(lowered) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        false
    }
}

fn sorted() -> &'static Sorted {
    static SORTED: OnceLock<Sorted> = OnceLock::new();
    SORTED.get_or_init(Sorted::load)
}

/// Whether `lowered` (a password in lower case) is on the breached-password list.
pub(crate) fn is_breached(lowered: &str) -> bool {
    sorted().contains(lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_list_inflates_sorted_and_complete() {
        let list = sorted();
        assert_eq!(list.len(), 12_048);
        for i in 1..list.len() {
            assert!(list.entry(i - 1) < list.entry(i), "sorted at {i}");
        }
        assert!(list.entry(0).chars().count() >= 12);
    }

    #[test]
    fn finds_first_last_and_middle_entries_and_nothing_else() {
        let list = sorted();
        for i in [0, 1, list.len() / 2, list.len() - 1] {
            assert!(is_breached(list.entry(i)), "{}", list.entry(i));
        }
        assert!(is_breached("111111111111"));
        assert!(!is_breached("a quite unusual horse sentence"));
        assert!(!is_breached(""));
        assert!(!is_breached("~~~~~~~~~~~~~~~~~~ after every entry"));
    }
}
