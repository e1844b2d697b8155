/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * payload_copy.h: copying a chunk's bytes (flat buffer or a bounded iovec walk) into the
 * per-CPU scratch record of payload.bpf.c, within cfg_max_payload and TG_PL_MAX_COPY.
 */
#ifndef TELEGEN_PAYLOAD_COPY_H
#define TELEGEN_PAYLOAD_COPY_H

/* min(n, TG_PL_MAX_COPY) in one register the compiler cannot rewrite, so the verifier
 * sees the bound on the value that is passed to the helper. */
static __always_inline __u64 clamp_copy(__u64 n)
{
	asm volatile("if %[n] <= %[max] goto +1\n\t"
		     "%[n] = %[max]"
		     : [n] "+r"(n)
		     : [max] "i"(TG_PL_MAX_COPY));
	return n;
}

static __always_inline __u32 max_copy(void)
{
	__u32 max = cfg_max_payload;
	return max > TG_PL_MAX_COPY ? TG_PL_MAX_COPY : max;
}

/* Copy up to max_copy() bytes of the chunk into s->data; sets flags on s->ev. */
static __always_inline __u32 copy_chunk(struct tg_pl_scratch *s, const struct tg_pl_chunk *ch)
{
	__u32 max = max_copy();
	if (!ch->ptr)
		return 0;
	if (!ch->is_iov) {
		__u64 n = clamp_copy(ch->bytes < max ? ch->bytes : max);
		if (bpf_probe_read_user(s->data, n, (void *)ch->ptr)) {
			s->ev.flags |= TG_PL_F_FAULT;
			count(TG_PL_CNT_READ_FAULT);
			return 0;
		}
		return n;
	}
	__u32 off = 0;
	__u64 left = ch->bytes;
	__u32 i;
	for (i = 0; i < TG_PL_MAX_IOV; i++) {
		if (i >= ch->iovcnt || !left)
			break;
		struct iovec iv = {};
		if (bpf_probe_read_user(&iv, sizeof(iv), (void *)(ch->ptr + i * sizeof(iv)))) {
			s->ev.flags |= TG_PL_F_FAULT;
			count(TG_PL_CNT_READ_FAULT);
			return off;
		}
		__u64 seg = iv.iov_len < left ? iv.iov_len : left;
		left -= seg;
		if (off >= max || !seg)
			continue;
		__u64 room = max - off;
		__u64 n = clamp_copy(seg < room ? seg : room);
		if (bpf_probe_read_user(&s->data[off & (TG_PL_MAX_COPY - 1)], n, iv.iov_base)) {
			s->ev.flags |= TG_PL_F_FAULT;
			count(TG_PL_CNT_READ_FAULT);
			return off;
		}
		off += n;
	}
	if (left && i == TG_PL_MAX_IOV && off < max) {
		s->ev.flags |= TG_PL_F_IOV_TRUNC;
		count(TG_PL_CNT_IOV_TRUNC);
	}
	return off;
}

#endif /* TELEGEN_PAYLOAD_COPY_H */
