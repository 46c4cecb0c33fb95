//! The JavaScript spelling of the exporter's snake_case names: the Node binding's option keys,
//! health entries and drop reasons, and the span schema's JavaScript field names, all derive
//! from the one Rust name by this rule.

/// `queue_full` → `queueFull`: each `_` dropped and the letter after it upper-cased.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn underscores_become_capitals() {
        assert_eq!(camel_case("queue_full"), "queueFull");
        assert_eq!(camel_case("ring_capacity_bytes"), "ringCapacityBytes");
        assert_eq!(camel_case("sink"), "sink");
        assert_eq!(camel_case(""), "");
    }
}
