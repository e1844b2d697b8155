/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * payload_classify.h: content classification of payload.bpf.c, from the first
 * TG_PL_CLASSIFY_LEN bytes of a chunk: HTTP/1 (request methods, "HTTP/1." responses) and
 * HTTP/2 (client preface, a server's first SETTINGS frame; HEADERS, PING and WINDOW_UPDATE
 * frames on connections joined mid-stream), as enabled by cfg_protocols.
 */
#ifndef TELEGEN_PAYLOAD_CLASSIFY_H
#define TELEGEN_PAYLOAD_CLASSIFY_H

static __always_inline int has_prefix(const __u8 *b, __u32 n, const char *s, __u32 len)
{
	if (n < len)
		return 0;
#pragma unroll
	for (__u32 i = 0; i < len; i++)
		if (b[i] != (__u8)s[i])
			return 0;
	return 1;
}

/*
 * 1 = request, 2 = response, 0 = no HTTP/1 message start. The request methods are
 * exactly telegen_proto::http1::METHODS (the parser's list; a test in telegen-proto
 * compares the two), so live capture and replay accept the same requests. One switch on
 * the first byte: each method costs only the comparisons of its own letter, in the order
 * below (the common methods first).
 */
static __always_inline int classify_http1(const __u8 *b, __u32 n)
{
	if (has_prefix(b, n, "HTTP/1.", 7))
		return 2;
	switch (b[0]) {
	case 'G':
		return has_prefix(b, n, "GET ", 4);
	case 'P':
		return has_prefix(b, n, "POST ", 5) || has_prefix(b, n, "PUT ", 4) ||
		       has_prefix(b, n, "PATCH ", 6) || has_prefix(b, n, "PROPFIND ", 9) ||
		       has_prefix(b, n, "PROPPATCH ", 10) || has_prefix(b, n, "PURGE ", 6);
	case 'H':
		return has_prefix(b, n, "HEAD ", 5);
	case 'D':
		return has_prefix(b, n, "DELETE ", 7);
	case 'O':
		return has_prefix(b, n, "OPTIONS ", 8);
	case 'C':
		return has_prefix(b, n, "CONNECT ", 8) || has_prefix(b, n, "COPY ", 5);
	case 'T':
		return has_prefix(b, n, "TRACE ", 6);
	case 'M':
		return has_prefix(b, n, "MKCOL ", 6) || has_prefix(b, n, "MOVE ", 5);
	case 'L':
		return has_prefix(b, n, "LOCK ", 5);
	case 'U':
		return has_prefix(b, n, "UNLOCK ", 7);
	case 'R':
		return has_prefix(b, n, "REPORT ", 7);
	case 'S':
		return has_prefix(b, n, "SEARCH ", 7);
	}
	return 0;
}

/* Role hint from the first HPACK field of a header block (RFC 7541 section 6; static
 * table indexes 1-7 are request pseudo-headers, 8-14 are :status): 1 = request,
 * 2 = response, 0 = unknown (dynamic index, table size update). */
static __always_inline int hpack_first_role(__u8 b)
{
	__u8 idx;
	if (b & 0x80)
		idx = b & 0x7f;
	else if (b & 0x40)
		idx = b & 0x3f;
	else if (b & 0x20)
		return 0;
	else
		idx = b & 0x0f;
	if (idx >= 1 && idx <= 7)
		return 1;
	if (idx >= 8 && idx <= 14)
		return 2;
	return 0;
}

/*
 * HTTP/2 (RFC 9113): 1 = the client preface, 2 = a frame header that can only be a
 * SETTINGS frame on stream 0 (a server's first frame). Joined mid-connection (the
 * socket existed before the capture): 3 = a HEADERS frame whose first field is a request
 * pseudo-header, 4 = one whose first field is :status, 5 = a HEADERS frame on a client
 * stream, a PING or a connection WINDOW_UPDATE (role unknown).
 */
static __always_inline int classify_http2(const __u8 *b, __u32 n)
{
	if (has_prefix(b, n, "PRI * HTTP/2.0\r\n", 16))
		return 1;
	if (n < 9)
		return 0;
	__u32 len = ((__u32)b[0] << 16) | ((__u32)b[1] << 8) | b[2];
	int stream0 = !b[5] && !b[6] && !b[7] && !b[8];
	if (b[3] == 4 && (b[4] & ~1) == 0 && stream0 && len % 6 == 0 && len <= 6 * 16 &&
	    (len == 0 || !(b[4] & 1)))
		return 2;
	if (b[3] == 6 && len == 8 && (b[4] & ~1) == 0 && stream0)
		return 5;
	if (b[3] == 8 && len == 4 && !b[4] && stream0)
		return 5;
	/* HEADERS: flags END_STREAM|END_HEADERS|PADDED|PRIORITY only, odd stream id. */
	if (b[3] == 1 && len >= 1 && len <= 16384 && !(b[4] & ~0x2d) && !(b[5] & 0x80) &&
	    (b[8] & 1)) {
		if (n < 10 || (b[4] & 0x28))
			return 5;
		int r = hpack_first_role(b[9]);
		return r ? 2 + r : 5;
	}
	return 0;
}

/* Classify the first bytes of a chunk: sets c->proto and (if unknown) c->role. */
static __always_inline int classify(struct tg_pl_conn *c, const __u8 *b, __u32 n, __u8 dir)
{
	int req_is_egress = -1; /* 1: a request went out (client), 0: came in (server) */
	int r;
	if ((cfg_protocols & TG_PL_CLASSIFY_HTTP1) && (r = classify_http1(b, n))) {
		c->proto = TG_PL_PROTO_HTTP1;
		req_is_egress = (r == 1) == (dir == TG_PL_DIR_EGRESS);
	} else if ((cfg_protocols & TG_PL_CLASSIFY_HTTP2) && (r = classify_http2(b, n))) {
		c->proto = TG_PL_PROTO_HTTP2;
		if (r != 5)
			req_is_egress = (r == 1 || r == 3) == (dir == TG_PL_DIR_EGRESS);
	} else {
		return 0;
	}
	if (c->role == TG_ROLE_UNKNOWN && req_is_egress >= 0)
		c->role = req_is_egress ? TG_ROLE_CLIENT : TG_ROLE_SERVER;
	return 1;
}

/* Read the first bytes of a chunk into b (TG_PL_CLASSIFY_LEN bytes, zeroed). */
static __always_inline __u32 chunk_head(const struct tg_pl_chunk *ch, __u8 *b)
{
	__u64 ptr = ch->ptr;
	__u64 len = ch->bytes;
	if (ch->is_iov) {
		struct iovec iv = {};
		if (!ch->iovcnt || bpf_probe_read_user(&iv, sizeof(iv), (void *)ptr))
			return 0;
		ptr = (__u64)iv.iov_base;
		if (iv.iov_len < len)
			len = iv.iov_len;
	}
	__u32 n = len < TG_PL_CLASSIFY_LEN ? len : TG_PL_CLASSIFY_LEN;
	if (!ptr || !n)
		return 0;
	if (bpf_probe_read_user(b, n, (void *)ptr))
		return 0;
	return n;
}

#endif /* TELEGEN_PAYLOAD_CLASSIFY_H */
