//! Small text helpers shared by the tests and the benchmarks (`benches/canvas.rs` includes this
//! file): database URLs, the server's log lines, its metrics.

#![allow(dead_code)]

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The first `127.0.0.1:PORT` with a nonzero port in a log line.
pub fn picked_address(line: &str) -> Option<String> {
    line.match_indices("127.0.0.1:").find_map(|(at, prefix)| {
        let digits: String = line[at + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        match digits.parse::<u16>() {
            Ok(port) if port != 0 => Some(format!("127.0.0.1:{port}")),
            _ => None,
        }
    })
}

/// `easel_db_statements_total` in a `/metrics` answer.
pub fn statements_total(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("easel_db_statements_total "))
        .expect("easel_db_statements_total in /metrics")
        .trim()
        .parse()
        .expect("a whole number of statements")
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn the_picked_port_is_read_from_a_log_line() {
        assert_eq!(
            super::picked_address("listening addr=127.0.0.1:0 at http://127.0.0.1:4321/graphql"),
            Some("127.0.0.1:4321".to_owned())
        );
        assert_eq!(super::picked_address("no address here"), None);
    }
}
