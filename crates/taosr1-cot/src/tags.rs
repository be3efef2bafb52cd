//! The response-format tags (`<think> … </think> <answer> L </answer>`).
//!
//! This module depends on nothing else in the crate, so both [`GradeScale`](crate::GradeScale)
//! (which rejects a tag as a grade label) and [`Template`](crate::Template) (which renders and
//! parses the tags) can use it without depending on each other.

/// Opens the chain-of-thought block.
pub const THINK_OPEN: &str = "<think>";
/// Closes the chain-of-thought block.
pub const THINK_CLOSE: &str = "</think>";
/// Opens the answer block; the next token is the grade label.
pub const ANSWER_OPEN: &str = "<answer>";
/// Closes the answer block.
pub const ANSWER_CLOSE: &str = "</answer>";

/// Every tag of the response format.
pub(crate) const TAGS: [&str; 4] = [THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE];

/// Whether `s` is exactly one of the response-format [`TAGS`].
pub(crate) fn is_tag(s: &str) -> bool {
    TAGS.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_distinct_and_recognised() {
        for (i, a) in TAGS.iter().enumerate() {
            assert!(is_tag(a));
            assert!(TAGS[i + 1..].iter().all(|b| a != b));
        }
        assert!(!is_tag("L4"));
        assert!(!is_tag(" <think>"));
        assert!(!is_tag("< think >"));
    }
}
