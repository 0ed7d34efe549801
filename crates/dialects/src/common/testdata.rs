//! The spec's worked examples, kept as files in each dialect's `testdata/` (as aws-sigv4 keeps
//! its vendor's vectors): a mismatch shows as a diff of the string to sign.

/// The text of `src/{dialect}/testdata/{name}`, without its final newline.
pub(crate) fn fixture(dialect: &str, name: &str) -> String {
    let path = format!(
        "{}/src/{dialect}/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim_end_matches('\n')
        .to_owned()
}
