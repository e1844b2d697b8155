//! gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md): counts length-prefixed messages
//! (1-byte compressed flag, 4-byte big-endian length) across DATA frames.

/// Message counter for one direction of one stream; bytes may arrive in any pieces.
#[derive(Debug, Default, Clone, Copy)]
pub struct MessageCounter {
    /// Bytes of the current message still to skip.
    need: u64,
    prefix: [u8; 5],
    prefix_len: u8,
    pub count: u32,
    /// Some DATA bytes were not seen: the count is a lower bound.
    pub lost: bool,
}

impl MessageCounter {
    pub fn feed(&mut self, mut d: &[u8]) {
        while !d.is_empty() {
            if self.need > 0 {
                let k = self.need.min(d.len() as u64);
                self.need -= k;
                d = &d[k as usize..];
                continue;
            }
            let want = 5 - usize::from(self.prefix_len);
            let k = want.min(d.len());
            let at = usize::from(self.prefix_len);
            self.prefix[at..at + k].copy_from_slice(&d[..k]);
            self.prefix_len += k as u8;
            d = &d[k..];
            if self.prefix_len == 5 {
                self.prefix_len = 0;
                self.count = self.count.saturating_add(1);
                let p = self.prefix;
                self.need = u64::from(u32::from_be_bytes([p[1], p[2], p[3], p[4]]));
            }
        }
    }

    /// `n` DATA bytes were not seen. Inside a message body they are just skipped (the
    /// count stays exact); if they may hold a message prefix, framing is lost for this
    /// stream and the count becomes a lower bound (`lost`).
    pub fn skip(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        if self.prefix_len == 0 && self.need >= n {
            self.need -= n;
        } else {
            self.lost = true;
            self.need = u64::MAX;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_messages_split_anywhere() {
        let mut all = Vec::new();
        for n in [0u32, 3, 300] {
            all.push(0);
            all.extend(n.to_be_bytes());
            all.extend(std::iter::repeat_n(7u8, n as usize));
        }
        for cut in 0..all.len() {
            let mut c = MessageCounter::default();
            c.feed(&all[..cut]);
            c.feed(&all[cut..]);
            assert_eq!(c.count, 3, "cut {cut}");
        }
    }
}
