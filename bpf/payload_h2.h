/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * payload_h2.h: HTTP/2 frame tracking of payload.bpf.c (frame layout: RFC 9113 section
 * 4.1; why: RFC 7541 HPACK state depends on every header block).
 *
 * On TCP connections classified HTTP/2 (from their first bytes, or switched from HTTP/1
 * by an "HTTP/1.1 101" answer to `Upgrade: h2c`) each direction's byte stream is walked
 * frame by frame (the 9-byte headers give length and type; headers split over two syscalls are
 * kept in tg_pl_h2s). A chunk becomes up to TG_PL_H2_MAX_EVENTS events, each copying at
 * most cfg_max_payload bytes:
 * - every non-DATA frame (HEADERS, CONTINUATION, SETTINGS, ...) is copied whole, over
 *   several events if it is longer than one event;
 * - a DATA payload that does not fit in the current event is copied up to the event's
 *   end, and the rest of it becomes a gap that ends at the DATA frame's end (or at the
 *   chunk's end when the frame goes on): the user-space framer skips such gaps without
 *   losing framing (crates/telegen-proto/src/http2/framer.rs).
 * When the frame positions are not known (the connection was joined mid-stream, bytes
 * were missed) the direction is "unsynced": chunks are copied like HTTP/1 (first
 * cfg_max_payload bytes, rest a gap) until a chunk starts with the client preface or
 * with plausible chained frame headers. Every loss of tracking, and every unsynced
 * chunk that was cut, is counted in TG_PL_CNT_H2_HEADERS_CUT: those are the cases where
 * header-block bytes may not have been copied.
 */
#ifndef TELEGEN_PAYLOAD_H2_H
#define TELEGEN_PAYLOAD_H2_H

#define TG_PL_H2_MAX_EVENTS 32 /* events (rounds) per chunk */
#define TG_PL_H2_MAX_FRAMES 64 /* frame headers walked per event */
#define TG_PL_H2_MAX_SKIP_IOV 64 /* iovec segments walked to move the cursor */
#define TG_PL_H2_HDR 9
#define TG_PL_H2_DATA 0
#define TG_PL_H2_PREFACE_LEN 24

/* One direction of one connection. */
struct tg_pl_h2_side {
	__u64 off;   /* stream offset up to which the direction was walked */
	__u64 rem;   /* payload bytes of the current frame left at `off` */
	__u8 hdr[TG_PL_H2_HDR]; /* partial frame header that ended the last chunk */
	__u8 have;   /* bytes in hdr */
	__u8 kind;   /* type of the current frame */
	__u8 synced; /* off/rem/kind/hdr are valid */
	__u32 _pad;
};

struct tg_pl_h2 {
	struct tg_pl_h2_side side[2]; /* enum tg_pl_dir */
};

/* Frame tracking state of HTTP/2 sockets (user space sizes it like tg_pl_conns). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tg_pl_h2);
} tg_pl_h2s SEC(".maps");

/* One chunk being reported (caller stack; passed to the per-event global function). */
struct tg_pl_h2_job {
	__u64 sk;
	__u64 ptr;      /* flat buffer or iovec array */
	__u64 bytes;    /* chunk length */
	__u64 off;      /* chunk bytes reported so far */
	__u64 base;     /* stream offset of the chunk's first byte */
	__u64 rem;      /* payload bytes of the current frame left at off */
	__u64 cur_base; /* iovec cursor: user address of the byte at off */
	__u64 cur_left; /* bytes left in the cursor's segment */
	__u32 cur_idx;  /* index of the cursor's segment */
	__u32 iovcnt;
	__u8 is_iov;
	__u8 dir;
	__u8 kind;    /* type of the current frame */
	__u8 have;    /* bytes of a partial header held in the side state */
	__u8 synced;  /* 0 at the first event: check for a frame start */
	__u8 lost;    /* framing lost in this chunk */
	__u8 gapped;  /* some bytes were not copied */
	__u8 fault;
};

static __always_inline __u32 be24(const __u8 *b)
{
	return ((__u32)b[0] << 16) | ((__u32)b[1] << 8) | b[2];
}

/* A frame header that can start a stream position we have no state for (mirrors
 * FrameHeader::plausible of the user-space parser). */
static __always_inline int h2_plausible(const __u8 *b)
{
	__u32 len = be24(b);
	__u8 kind = b[3], flags = b[4];
	int on_stream = (b[5] & 0x7f) | b[6] | b[7] | b[8];
	if (len > (1U << 20))
		return 0;
	switch (kind) {
	case 0: case 1: case 5: case 9:
		return on_stream != 0;
	case 2:
		return on_stream && len == 5;
	case 3:
		return on_stream && len == 4;
	case 4:
		return !on_stream && len % 6 == 0 && !(flags & ~1);
	case 6:
		return !on_stream && len == 8 && !(flags & ~1);
	case 7:
		return !on_stream && len >= 8;
	case 8:
		return len == 4;
	}
	return 0;
}

/* Moves the iovec cursor n bytes forward; 0 when the segments ran out. */
static __always_inline int h2_advance(struct tg_pl_h2_job *j, __u64 n)
{
	if (!j->is_iov) {
		j->cur_base += n;
		return 1;
	}
	for (__u32 i = 0; i < TG_PL_H2_MAX_SKIP_IOV; i++) {
		if (n < j->cur_left || (n == j->cur_left && n)) {
			j->cur_base += n;
			j->cur_left -= n;
			return 1;
		}
		n -= j->cur_left;
		j->cur_idx++;
		if (j->cur_idx >= j->iovcnt)
			return n == 0;
		struct iovec iv = {};
		if (bpf_probe_read_user(&iv, sizeof(iv),
					(void *)(j->ptr + (__u64)j->cur_idx * sizeof(iv))))
			return 0;
		j->cur_base = (__u64)iv.iov_base;
		j->cur_left = iv.iov_len;
	}
	return 0;
}

/* Copies up to n bytes from the cursor into s->data (cursor unchanged). */
static __always_inline __u32 h2_copy(struct tg_pl_h2_job *j, struct tg_pl_scratch *s, __u32 n)
{
	if (!j->is_iov) {
		__u64 k = clamp_copy(n);
		if (bpf_probe_read_user(s->data, k, (void *)j->cur_base))
			return 0;
		return k;
	}
	__u64 base = j->cur_base, left = j->cur_left;
	__u32 idx = j->cur_idx, off = 0;
	for (__u32 i = 0; i < TG_PL_MAX_IOV; i++) {
		if (off >= n)
			break;
		if (!left) {
			/* Move on to the next segment, then copy from it. */
			idx++;
			if (idx >= j->iovcnt)
				break;
			struct iovec iv = {};
			if (bpf_probe_read_user(&iv, sizeof(iv),
						(void *)(j->ptr + (__u64)idx * sizeof(iv))))
				break;
			base = (__u64)iv.iov_base;
			left = iv.iov_len;
			if (!left)
				continue;
		}
		__u64 room = n - off;
		__u64 k = clamp_copy(left < room ? left : room);
		if (bpf_probe_read_user(&s->data[off & (TG_PL_MAX_COPY - 1)], k, (void *)base))
			return off;
		off += k;
		base += k;
		left -= k;
	}
	return off;
}

static __always_inline __u8 sbyte(const struct tg_pl_scratch *s, __u32 i)
{
	return s->data[i & (2 * TG_PL_MAX_COPY - 1)];
}

/* Where frames start in an unsynced chunk: 24 after the client preface, 0 at chained
 * plausible headers, -1 when it does not look like a frame start. */
static __always_inline int h2_find_start(const struct tg_pl_scratch *s, __u32 n, __u64 rest)
{
	__u8 b[TG_PL_H2_HDR];
	if (n >= 16 && has_prefix(s->data, n, "PRI * HTTP/2.0\r\n", 16))
		return TG_PL_H2_PREFACE_LEN;
	if (n < TG_PL_H2_HDR)
		return -1;
	__builtin_memcpy(b, s->data, TG_PL_H2_HDR);
	if (!h2_plausible(b))
		return -1;
	__u64 end = TG_PL_H2_HDR + (__u64)be24(b);
	if (end == rest || end > n)
		return 0; /* ends the chunk exactly, or goes past what we can see */
	if (end + TG_PL_H2_HDR > n)
		return -1;
	for (__u32 k = 0; k < TG_PL_H2_HDR; k++)
		b[k] = sbyte(s, end + k);
	return h2_plausible(b) ? 0 : -1;
}

/* The frame walk over one event's window (scalars only: passed to a global function). */
struct tg_pl_h2_walk {
	__u64 rem;  /* payload bytes of the current frame left at pos */
	__u64 rest; /* chunk bytes from the window's start */
	__u64 gap;  /* out: DATA bytes after the window to report as a gap */
	__u32 pos;  /* window offset walked so far */
	__u32 n;    /* window length */
	__u8 kind;
	__u8 partial; /* out: a frame header is cut by the chunk's end at pos */
	__u8 capped;  /* the window ends at the per-event cap (not at an iovec limit) */
	__u8 _pad0;
	__u32 _pad1;
};

/*
 * One step of the walk: the rest of the current frame's payload, or the next frame
 * header. Returns 1 when the walk of this window is over. A global function, so that
 * the verifier checks it once rather than once per unrolled step.
 */
__noinline int tg_pl_h2_step(struct tg_pl_h2_walk *w, const struct tg_pl_scratch *s)
{
	if (!w || !s || w->pos >= w->n)
		return 1;
	if (w->rem) {
		__u64 r = w->rem;
		if ((__u64)w->pos + r <= w->n) {
			w->pos += r;
			w->rem = 0;
			return 0;
		}
		w->rem -= w->n - w->pos;
		w->pos = w->n;
		if (w->kind == TG_PL_H2_DATA && w->capped && w->rest > w->n) {
			/* The rest of this DATA payload in the chunk is a gap. */
			__u64 left = w->rest - w->n;
			w->gap = w->rem < left ? w->rem : left;
			w->rem -= w->gap;
		}
		return 1;
	}
	if (w->pos + TG_PL_H2_HDR > w->n) {
		w->partial = w->n == w->rest;
		return 1;
	}
	__u32 p = w->pos;
	w->rem = ((__u32)sbyte(s, p) << 16) | ((__u32)sbyte(s, p + 1) << 8) | sbyte(s, p + 2);
	w->kind = sbyte(s, p + 3);
	w->pos = p + TG_PL_H2_HDR;
	return 0;
}

/*
 * One event of an HTTP/2 chunk: copies the next window (at most cfg_max_payload bytes),
 * walks the frames in it, submits it with the gap that may follow, moves on. Returns 1
 * when the chunk is done. A global function: verified once, not once per round. The
 * caller's scratch buffer and direction state are passed in (no map lookups per round).
 */
__noinline int tg_pl_h2_event(struct tg_pl_h2_job *j, struct tg_pl_scratch *s,
			      struct tg_pl_h2_side *st)
{
	if (!j || !s || !st || j->off >= j->bytes)
		return 1;
	__u64 rest = j->bytes - j->off;
	__u32 max = max_copy();
	__u32 n = h2_copy(j, s, rest < max ? rest : max);
	if (!n)
		j->lost = j->fault = 1;
	__u32 pos = 0;
	__u64 gap = 0;
	if (!j->lost && !j->synced) {
		int at = h2_find_start(s, n, rest);
		if (at < 0) {
			j->lost = 1;
		} else {
			j->synced = 1;
			j->rem = 0;
			j->have = 0;
			pos = at;
		}
	}
	if (!j->lost && j->have && pos == 0) {
		/* The header that began at the end of the previous chunk. */
		__u8 have = j->have;
		__u8 b[TG_PL_H2_HDR] = {};
		for (__u32 k = 0; k < TG_PL_H2_HDR; k++) {
			if (k < have)
				b[k] = st->hdr[k];
			else if (k - have < n)
				b[k] = sbyte(s, k - have);
		}
		if (n < (__u32)(TG_PL_H2_HDR - have)) {
			__builtin_memcpy(st->hdr, b, TG_PL_H2_HDR);
			j->have = have + n;
			pos = n;
		} else {
			j->have = 0;
			pos = TG_PL_H2_HDR - have;
			j->rem = be24(b);
			j->kind = b[3];
		}
	}
	if (!j->lost) {
		struct tg_pl_h2_walk w = {};
		w.rem = j->rem;
		w.rest = rest;
		w.pos = pos;
		w.n = n;
		w.kind = j->kind;
		w.capped = n == max;
		for (__u32 i = 0; i < TG_PL_H2_MAX_FRAMES; i++)
			if (tg_pl_h2_step(&w, s))
				break;
		pos = w.pos;
		gap = w.gap;
		j->rem = w.rem;
		j->kind = w.kind;
		if (w.partial && pos < n) {
			/* A header split over two chunks: keep its start. */
			__u32 got = n - pos;
			for (__u32 k = 0; k < TG_PL_H2_HDR - 1; k++)
				if (k < got)
					st->hdr[k] = sbyte(s, pos + k);
			j->have = got < TG_PL_H2_HDR ? got : 0;
			pos = n;
		}
		if (pos == 0 && gap == 0)
			j->lost = 1; /* no progress (cannot happen with a sane window) */
	}
	if (j->lost) {
		/* Framing unknown: the window is copied, the rest of the chunk is a gap. */
		pos = n;
		gap = rest - n;
	}
	__u64 keep = clamp_copy(pos);
	__u64 piece = keep + gap;
	s->ev.bytes = piece;
	s->ev.copied = keep;
	if (j->dir == TG_PL_DIR_EGRESS)
		s->ev.total_tx = j->base + j->off + piece;
	else
		s->ev.total_rx = j->base + j->off + piece;
	if (gap)
		j->gapped = 1;
	if (bpf_ringbuf_output(&tg_pl_events, &s->ev, sizeof(s->ev) + keep, rb_flags()))
		count(TG_PL_CNT_RB_FAIL);
	else
		count(TG_PL_CNT_EVENTS);
	j->off += piece;
	if (j->lost || j->off >= j->bytes)
		return 1;
	if (!h2_advance(j, piece)) {
		j->fault = 1;
		return 1;
	}
	return 0;
}

/*
 * Reports an HTTP/2 chunk as frame-aligned events (s->ev already holds the header).
 * `total` is the direction's byte total including this chunk.
 */
static __always_inline void h2_chunk(const struct tg_pl_chunk *ch, __u64 key, __u8 dir,
				     __u64 total, struct tg_pl_scratch *s)
{
	struct tg_pl_h2 *h = bpf_map_lookup_elem(&tg_pl_h2s, &key);
	if (!h) {
		struct tg_pl_h2 fresh = {};
		bpf_map_update_elem(&tg_pl_h2s, &key, &fresh, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&tg_pl_h2s, &key);
		if (!h) {
			count(TG_PL_CNT_CONN_FULL);
			return;
		}
	}
	struct tg_pl_h2_side *st = dir ? &h->side[1] : &h->side[0];
	struct tg_pl_h2_job j = {};
	j.sk = key;
	j.ptr = ch->ptr;
	j.bytes = ch->bytes;
	j.base = total - ch->bytes;
	j.dir = dir;
	j.is_iov = ch->is_iov;
	j.iovcnt = ch->iovcnt;
	int was_synced = st->synced && st->off == j.base;
	if (st->synced && !was_synced)
		count(TG_PL_CNT_H2_HEADERS_CUT); /* bytes of this direction were missed */
	j.synced = was_synced;
	j.rem = st->rem;
	j.kind = st->kind;
	j.have = st->have;
	if (ch->is_iov) {
		struct iovec iv = {};
		if (!ch->iovcnt || bpf_probe_read_user(&iv, sizeof(iv), (void *)ch->ptr)) {
			j.lost = 1;
		} else {
			j.cur_base = (__u64)iv.iov_base;
			j.cur_left = iv.iov_len;
		}
	} else {
		j.cur_base = ch->ptr;
	}
	for (__u32 i = 0; i < TG_PL_H2_MAX_EVENTS; i++)
		if (tg_pl_h2_event(&j, s, st))
			break;
	if (j.off < j.bytes && !j.lost) {
		/* Out of events (or a cursor fault): the rest is one gap, harmless only
		 * inside the current DATA payload. */
		__u64 left = j.bytes - j.off;
		if (!j.fault && !j.have && j.kind == TG_PL_H2_DATA && j.rem >= left)
			j.rem -= left;
		else
			j.lost = 1;
		j.gapped = 1;
		j.off = j.bytes;
	}
	if (j.gapped)
		count(TG_PL_CNT_TRUNCATED);
	if (j.fault)
		count(TG_PL_CNT_READ_FAULT);
	if (j.lost && (was_synced || j.gapped))
		count(TG_PL_CNT_H2_HEADERS_CUT);
	st->synced = !j.lost && j.synced;
	st->off = j.base + j.bytes;
	st->rem = j.rem;
	st->kind = j.kind;
	st->have = j.have;
}

/* How far into a copied "HTTP/1.1 101" response the "h2c" upgrade token is looked for. */
#define TG_PL_H2C_SCAN 256

/*
 * 1 when the copied chunk in s is an HTTP/1.1 101 response that switches to h2c (RFC 7540
 * section 3.2: `Upgrade: h2c`), else 0 (WebSocket and other upgrades stay as they are).
 * A global function: its bounded scan is verified once.
 */
__noinline int tg_pl_h2c_switch(const struct tg_pl_scratch *s, __u32 n)
{
	if (!s || n < 16 || !has_prefix(s->data, n, "HTTP/1.1 101", 12))
		return 0;
	/* A header value that starts with "h2c" (": h2c" or ":h2c"): the Upgrade field's;
	 * base64 values such as Sec-WebSocket-Accept hold neither ':' nor ' '. */
	for (__u32 i = 14; i < TG_PL_H2C_SCAN; i++) {
		if (i + 3 > n)
			return 0;
		if (sbyte(s, i) == 'h' && sbyte(s, i + 1) == '2' && sbyte(s, i + 2) == 'c' &&
		    (sbyte(s, i - 1) == ':' || (sbyte(s, i - 1) == ' ' && sbyte(s, i - 2) == ':')))
			return 1;
	}
	return 0;
}

/* A chunk that could not be copied (scratch busy): tracking survives only when the whole
 * chunk lies inside the current DATA payload. */
static __always_inline void h2_lost_chunk(__u64 key, __u8 dir, __u64 bytes, __u64 total)
{
	struct tg_pl_h2 *h = bpf_map_lookup_elem(&tg_pl_h2s, &key);
	if (!h)
		return;
	struct tg_pl_h2_side *st = dir ? &h->side[1] : &h->side[0];
	if (st->synced && st->off == total - bytes && !st->have && st->kind == TG_PL_H2_DATA &&
	    st->rem >= bytes) {
		st->rem -= bytes;
		st->off = total;
		return;
	}
	if (st->synced)
		count(TG_PL_CNT_H2_HEADERS_CUT);
	st->synced = 0;
}

#endif /* TELEGEN_PAYLOAD_H2_H */
