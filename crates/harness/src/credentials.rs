//! Reading the credentials `.txt` of an API account.

/// The value of a `NAME: value` line of a credentials `.txt` (the layout BigCommerce downloads
/// when an API account is created and `cenports sandbox --credentials-dir` writes), e.g.
/// `field(txt, "ACCESS TOKEN")`; `None` without such a line.
pub fn field<'a>(txt: &'a str, name: &str) -> Option<&'a str> {
    txt.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn a_field_is_the_rest_of_its_line_after_the_colon() {
        let txt = "ACCESS TOKEN: abc\nCLIENT ID: id\nAPI PATH: http://x/stores/h/v3/\n";
        assert_eq!(field(txt, "ACCESS TOKEN"), Some("abc"));
        assert_eq!(field(txt, "API PATH"), Some("http://x/stores/h/v3/"));
        assert_eq!(field(txt, "CLIENT SECRET"), None);
        assert_eq!(
            field(txt, "CLIENT"),
            None,
            "a prefix of a name is not the name"
        );
    }
}
