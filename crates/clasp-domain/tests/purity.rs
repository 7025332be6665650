//! The domain crate stays pure: no I/O crate may enter its dependency tree.

use std::process::Command;

/// Crates (or crate-name prefixes) that do I/O and belong in adapters.
const FORBIDDEN: &[&str] = &[
    "actix",
    "awc",
    "diesel",
    "object_store",
    "tokio",
    "mio",
    "hyper",
    "h2",
    "reqwest",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "rusqlite",
    "libsqlite3-sys",
    "aws",
    "rustls",
    "native-tls",
];

#[test]
fn the_domain_depends_on_no_io_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "clasp-domain",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--locked",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"clasp-domain") && names.len() > 5,
        "the tree was read: {names:?}"
    );
    let offending: Vec<&&str> = names
        .iter()
        .filter(|n| FORBIDDEN.iter().any(|f| is_or_extends(n, f)))
        .collect();
    assert!(
        offending.is_empty(),
        "clasp-domain must stay pure, but depends on {offending:?}"
    );
}

/// `name` is `family` itself or a crate of that family (`family-…`, `family_…`).
fn is_or_extends(name: &str, family: &str) -> bool {
    name.strip_prefix(family)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_']))
}

#[test]
fn families_match_whole_names_only() {
    assert!(is_or_extends("tokio", "tokio") && is_or_extends("tokio-util", "tokio"));
    assert!(is_or_extends("diesel_migrations", "diesel") && is_or_extends("aws-sdk-s3", "aws"));
    assert!(!is_or_extends("h2o", "h2") && !is_or_extends("hyperlocal2", "hyper-x"));
}
