//! The HTTP/1 request methods telegen recognises as a message start: RFC 9110, PATCH
//! (RFC 5789) and the WebDAV family, plus PURGE (cache invalidation). One list for the
//! parser (`parser::request_start`, the lenient paths), the record's static method names
//! (`record::method_name`) and the kernel classifier (`classify_http1` in
//! bpf/payload_classify.h accepts exactly these; a test in the agent compares the two).

/// Request methods accepted as a message start.
pub const METHODS: [&str; 19] = [
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "HEAD",
    "OPTIONS",
    "PATCH",
    "CONNECT",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "SEARCH",
    "PURGE",
];

/// [`METHODS`] as bytes, for matching raw input.
pub(crate) const METHOD_BYTES: [&[u8]; METHODS.len()] = {
    let mut out: [&[u8]; METHODS.len()] = [&[]; METHODS.len()];
    let mut i = 0;
    while i < METHODS.len() {
        out[i] = METHODS[i].as_bytes();
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// The `has_prefix(b, n, "LITERAL", LEN)` calls of `classify_http1` in
    /// bpf/payload_classify.h: (case letter or None before the switch, literal, LEN).
    fn kernel_prefixes() -> Vec<(Option<char>, String, usize)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bpf/payload_classify.h");
        let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let start = src.find("int classify_http1(").expect("classify_http1 in the header");
        let open = start + src[start..].find('{').expect("its body");
        let mut depth = 0;
        let len = src[open..]
            .char_indices()
            .find(|&(_, c)| {
                depth += (c == '{') as i32 - (c == '}') as i32;
                depth == 0
            })
            .expect("the body ends")
            .0;
        let body = &src[open..open + len];
        let (mut out, mut case) = (Vec::new(), None);
        let mut rest = body;
        loop {
            let (c, p) = (rest.find("case '"), rest.find("has_prefix("));
            match (c, p) {
                (Some(c), p) if p.is_none_or(|p| c < p) => {
                    let mut chars = rest[c + 6..].chars();
                    case = chars.next();
                    assert_eq!(chars.next(), Some('\''), "a one-character case label");
                    rest = &rest[c + 6..];
                }
                (_, Some(p)) => {
                    let call = &rest[p + "has_prefix(".len()..];
                    let args: Vec<&str> = call[..call.find(')').unwrap()].split(',').collect();
                    let [b, n, lit, len] = args[..] else { panic!("has_prefix args {args:?}") };
                    assert_eq!((b.trim(), n.trim()), ("b", "n"), "{call}");
                    let lit = lit.trim().strip_prefix('"').and_then(|l| l.strip_suffix('"'));
                    let lit = lit.unwrap_or_else(|| panic!("a string literal in {call}"));
                    assert!(!lit.contains('\\'), "no escapes expected: {lit}");
                    let len = len.trim().parse().unwrap_or_else(|e| panic!("{call}: {e}"));
                    out.push((case, lit.to_string(), len));
                    rest = call;
                }
                _ => break,
            }
        }
        out
    }

    #[test]
    fn the_kernel_classifier_accepts_exactly_these_methods() {
        let prefixes = kernel_prefixes();
        let mut kernel = Vec::new();
        for (case, lit, len) in &prefixes {
            assert_eq!(lit.len(), *len, "length argument of {lit:?}");
            match case {
                None => assert_eq!(lit, "HTTP/1.", "only the response check is outside the switch"),
                Some(c) => {
                    let method = lit.strip_suffix(' ').unwrap_or_else(|| panic!("{lit:?}: space"));
                    assert!(method.starts_with(*c), "{method} under case '{c}'");
                    kernel.push(method);
                }
            }
        }
        let mut ours = METHODS.to_vec();
        ours.sort_unstable();
        kernel.sort_unstable();
        assert_eq!(kernel, ours, "classify_http1 in bpf/payload_classify.h vs METHODS");
        assert!(kernel.windows(2).all(|w| w[0] != w[1]), "a method twice: {kernel:?}");
    }

    #[test]
    fn registered_methods_are_static_strings() {
        for m in METHODS.iter().chain(&["PRI"]) {
            assert!(matches!(crate::record::method_name(m), Cow::Borrowed(b) if b == *m), "{m}");
        }
        assert!(matches!(crate::record::method_name("BREW"), Cow::Owned(o) if o == "BREW"));
        for (s, b) in METHODS.iter().zip(METHOD_BYTES) {
            assert_eq!(s.as_bytes(), b);
        }
    }
}
