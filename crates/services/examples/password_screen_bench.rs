//! What screening a new password against the breached-password list costs, next to the argon2id
//! hash every new password gets anyway (the baseline, measured in the same run): the first check
//! in the process (cold caches) and the steady-state check, over passwords that are on the list
//! and ones that are not. Prints one JSON line.
//!
//! `cargo run --release -p services --example password_screen_bench`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use domain::check_password_policy;
use services::identity::PasswordCost;
use services::identity::password::hash_blocking;

fn main() {
    let candidates: Vec<String> = (0..10_000)
        .map(|i| match i % 4 {
            0 => "ManchesterUnited".to_owned(),
            1 => "1qaz2wsx3edc4rfv".to_owned(),
            _ => format!("plinth otter harbour {i}"),
        })
        .collect();

    let first = Instant::now();
    assert!(check_password_policy("qwertyuiopasdfghjkl", "bob").is_err());
    let first_ms = first.elapsed().as_secs_f64() * 1e3;

    let started = Instant::now();
    let mut refused = 0;
    for password in &candidates {
        if check_password_policy(password, "bob").is_err() {
            refused += 1;
        }
    }
    let check_us = started.elapsed().as_secs_f64() * 1e6 / candidates.len() as f64;
    assert_eq!(refused, candidates.len() / 2);

    let hashes = 5;
    let started = Instant::now();
    for i in 0..hashes {
        hash_blocking(&format!("plinth otter harbour {i}"), PasswordCost::Standard).unwrap();
    }
    let hash_ms = started.elapsed().as_secs_f64() * 1e3 / f64::from(hashes);

    println!(
        "{{\"first_check_ms\": {first_ms:.3}, \"check_us\": {check_us:.2}, \"argon2id_hash_ms\": {hash_ms:.1}, \
         \"first_check_vs_hash\": {:.4}, \"check_vs_hash\": {:.6}}}",
        first_ms / hash_ms,
        check_us / 1e3 / hash_ms
    );
}
