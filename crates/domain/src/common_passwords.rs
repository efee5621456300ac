//! Screening of new passwords against a breached-password list: the 12,048 passwords of the
//! SecLists "10 million passwords" lists that are long enough to pass the length rule, sorted,
//! in blocks of 128 that are each raw deflate, with an index of every block's first entry
//! (`data/make_common_passwords.py`). A check inflates only the block its password would be in
//! (about 2 KB), so it is fast from the first call and keeps nothing in memory.

static INDEX: &str = include_str!("../data/common_passwords.index");
static BLOCKS: &[u8] = include_bytes!("../data/common_passwords.blocks");

/// Each block's offset in [`BLOCKS`] and first entry, in order.
fn index() -> Vec<(usize, &'static str)> {
    INDEX
        .lines()
        .filter_map(|line| {
            let (offset, first) = line.split_once('\t')?;
            Some((offset.parse().ok()?, first))
        })
        .collect()
}

/// The entries of block `i` of `index`, inflated (empty if the embedded data were damaged,
/// which the tests below rule out for the data that ships).
fn block(index: &[(usize, &str)], i: usize) -> Vec<u8> {
    let start = index[i].0;
    let end = index.get(i + 1).map_or(BLOCKS.len(), |next| next.0);
    BLOCKS
        .get(start..end)
        .and_then(|bytes| miniz_oxide::inflate::decompress_to_vec(bytes).ok())
        .unwrap_or_default()
}

/// Whether `lowered` (a password in lower case) is on the breached-password list.
pub(crate) fn is_breached(lowered: &str) -> bool {
    let index = index();
    // The block whose first entry is the last one not after `lowered`.
    let after = index.partition_point(|(_, first)| *first <= lowered);
    let Some(i) = after.checked_sub(1) else {
        return false;
    };
    block(&index, i)
        .split(|b| *b == b'\n')
        .any(|entry| entry == lowered.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<String> {
        let index = index();
        (0..index.len())
            .flat_map(|i| {
                String::from_utf8(block(&index, i))
                    .expect("UTF-8")
                    .split('\n')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_embedded_list_is_whole_sorted_and_every_entry_is_found() {
        let entries = entries();
        assert_eq!(entries.len(), 12_048);
        for pair in entries.windows(2) {
            assert!(pair[0] < pair[1], "sorted: {pair:?}");
        }
        for entry in &entries {
            assert!(entry.chars().count() >= 12, "{entry}");
            assert!(is_breached(entry), "{entry}");
        }
    }

    #[test]
    fn nothing_else_is_found() {
        assert!(is_breached("111111111111"));
        assert!(is_breached("manchesterunited"));
        assert!(!is_breached("a quite unusual horse sentence"));
        assert!(!is_breached(""));
        assert!(!is_breached("!"), "before the first entry");
        assert!(!is_breached("\u{10FFFF} after every entry"));
        // A prefix or an extension of an entry is not the entry.
        assert!(!is_breached("manchesterunite"));
        assert!(!is_breached("manchesterunited!"));
    }
}
