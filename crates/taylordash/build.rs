//! Link options of the `taylordash` binary. On GNU/Linux its relative relocations are packed
//! (`-z pack-relative-relocs`, DT_RELR: GNU ld 2.38+, glibc 2.36+, both in Debian 12, the
//! build and runtime images' base): a position-independent Rust binary carries one relocation
//! per pointer in its read-only data (vtables, string tables), and packed they take a few
//! kilobytes instead of about 600 KB, which keeps the image within its size target. Nothing
//! changes at run time: the loader applies the same relocations.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
