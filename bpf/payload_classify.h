/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * payload_classify.h: content classification of payload.bpf.c, from the first
 * TG_PL_CLASSIFY_LEN bytes of a chunk: HTTP/1 (request methods, "HTTP/1." responses) and
 * HTTP/2 (client preface, a server's first SETTINGS frame), as enabled by cfg_protocols.
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

/* 1 = request, 2 = response, 0 = no HTTP/1 message start. */
static __always_inline int classify_http1(const __u8 *b, __u32 n)
{
	if (has_prefix(b, n, "HTTP/1.", 7))
		return 2;
	switch (b[0]) {
	case 'G':
		return has_prefix(b, n, "GET ", 4);
	case 'P':
		return has_prefix(b, n, "POST ", 5) || has_prefix(b, n, "PUT ", 4) ||
		       has_prefix(b, n, "PATCH ", 6);
	case 'H':
		return has_prefix(b, n, "HEAD ", 5);
	case 'D':
		return has_prefix(b, n, "DELETE ", 7);
	case 'O':
		return has_prefix(b, n, "OPTIONS ", 8);
	case 'C':
		return has_prefix(b, n, "CONNECT ", 8);
	case 'T':
		return has_prefix(b, n, "TRACE ", 6);
	}
	return 0;
}

/*
 * HTTP/2 hook: 1 = the client preface, 2 = a frame header that can only be a SETTINGS
 * frame on stream 0 (a server's first frame). Later protocols add their probes here.
 */
static __always_inline int classify_http2(const __u8 *b, __u32 n)
{
	if (has_prefix(b, n, "PRI * HTTP/2.0\r\n", 16))
		return 1;
	if (n < 9)
		return 0;
	__u32 len = ((__u32)b[0] << 16) | ((__u32)b[1] << 8) | b[2];
	if (b[3] == 4 && (b[4] & ~1) == 0 && !b[5] && !b[6] && !b[7] && !b[8] && len % 6 == 0 &&
	    len <= 6 * 16 && (len == 0 || !(b[4] & 1)))
		return 2;
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
		req_is_egress = (r == 1) == (dir == TG_PL_DIR_EGRESS);
	} else {
		return 0;
	}
	if (c->role == TG_ROLE_UNKNOWN)
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
