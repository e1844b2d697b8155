//! `http.route` for HTTP records. The route pattern is not on the wire, so a
//! low-cardinality route is derived from the path (ids, UUIDs, hex and long opaque
//! segments become `{id}`; the query string is dropped), and user-declared patterns
//! (`/users/{id}`, `/static/*`) win over derived routes.

use thiserror::Error;

/// Placeholder for a high-cardinality path segment.
pub const ID: &str = "{id}";

/// Strips scheme and authority (absolute-form targets), query and fragment.
pub fn path_of(target: &str) -> &str {
    let t = target.split(['?', '#']).next().unwrap_or("");
    if t.starts_with('/') {
        // Origin form, by far the most common.
        return t;
    }
    match t.find("://") {
        Some(i) => {
            let rest = &t[i + 3..];
            rest.find('/').map_or("/", |p| &rest[p..])
        }
        None => t,
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether a segment is an identifier rather than a name.
fn is_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == b.len() || is_uuid(s) {
        return true;
    }
    // Hex ids (hashes, object ids): long enough and with at least one digit.
    if b.len() >= 8 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    // Long opaque tokens (base64, ulids, slugs with numbers).
    let token = b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_=~.%".contains(c));
    token && ((b.len() >= 16 && digits > 0) || b.len() >= 32)
}

/// The derived route of a request target: `/users/42/orders?x=1` -> `/users/{id}/orders`.
pub fn derive_route(target: &str) -> String {
    if target == "*" {
        return "*".to_owned();
    }
    let path = path_of(target);
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if is_id(seg) { ID } else { seg });
    }
    out
}

/// A user pattern that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RouteError {
    #[error("route pattern {pattern:?} must start with '/'")]
    NotAbsolute { pattern: String },
    #[error("route pattern {pattern:?}: '*' is only allowed as the last segment")]
    WildcardNotLast { pattern: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Param,
    Rest,
}

/// User route patterns, tried in the order given (the first match wins). `{name}`
/// matches one non-empty segment, a final `*` matches the rest of the path.
#[derive(Debug, Clone, Default)]
pub struct RouteMatcher {
    patterns: Vec<(String, Vec<Seg>)>,
}

impl RouteMatcher {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, RouteError> {
        let mut out = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref();
            if !p.starts_with('/') {
                return Err(RouteError::NotAbsolute { pattern: p.to_owned() });
            }
            let segs: Vec<Seg> = p
                .split('/')
                .skip(1)
                .map(|s| match s {
                    "*" => Seg::Rest,
                    s if s.starts_with('{') && s.ends_with('}') && s.len() >= 2 => Seg::Param,
                    s => Seg::Lit(s.to_owned()),
                })
                .collect();
            if segs.iter().rev().skip(1).any(|s| *s == Seg::Rest) {
                return Err(RouteError::WildcardNotLast { pattern: p.to_owned() });
            }
            out.push((p.to_owned(), segs));
        }
        Ok(RouteMatcher { patterns: out })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first user pattern matching the target's path.
    pub fn find(&self, target: &str) -> Option<&str> {
        let path = path_of(target);
        let path = path.strip_prefix('/')?;
        'pat: for (name, segs) in &self.patterns {
            let mut parts = path.split('/');
            for s in segs {
                match s {
                    Seg::Rest => return Some(name),
                    Seg::Param => match parts.next() {
                        Some(p) if !p.is_empty() => {}
                        _ => continue 'pat,
                    },
                    Seg::Lit(l) => match parts.next() {
                        Some(p) if p == l => {}
                        _ => continue 'pat,
                    },
                }
            }
            if parts.next().is_none() {
                return Some(name);
            }
        }
        None
    }

    /// The route of a target: a matching user pattern, else the derived route.
    pub fn route(&self, target: &str) -> String {
        match self.find(target) {
            Some(p) => p.to_owned(),
            None => derive_route(target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_low_cardinality_routes() {
        let cases = [
            ("/users/42/orders?x=1", "/users/{id}/orders"),
            ("/users/550e8400-e29b-41d4-a716-446655440000", "/users/{id}"),
            ("/blobs/5f2b9c0e7a1d3e44", "/blobs/{id}"),
            ("/t/eyJhbGciOiJIUzI1NiJ9abcdefgh123", "/t/{id}"),
            ("/api/v1/health", "/api/v1/health"),
            ("/static/app.js", "/static/app.js"),
            ("/deadbeef", "/deadbeef"),
            ("/", "/"),
            ("", "/"),
            ("*", "*"),
            ("http://example.com/a/7#frag", "/a/{id}"),
            ("http://example.com", "/"),
            ("/a//b/", "/a//b/"),
        ];
        for (t, want) in cases {
            assert_eq!(derive_route(t), want, "target {t}");
        }
    }

    #[test]
    fn user_patterns_win_in_order() {
        let m = RouteMatcher::new(&["/users/{id}", "/users/me/{x}", "/static/*"]).unwrap();
        assert_eq!(m.route("/users/alice?x=1"), "/users/{id}");
        assert_eq!(m.route("/users/me/7"), "/users/me/{x}");
        assert_eq!(m.route("/static/css/a.css"), "/static/*");
        assert_eq!(m.route("/users/"), "/users/");
        assert_eq!(m.route("/users/42/orders"), "/users/{id}/orders");
        assert_eq!(m.find("/other"), None);
    }

    #[test]
    fn bad_patterns_rejected() {
        assert!(matches!(RouteMatcher::new(&["users"]), Err(RouteError::NotAbsolute { .. })));
        assert!(matches!(RouteMatcher::new(&["/*/x"]), Err(RouteError::WildcardNotLast { .. })));
    }
}
