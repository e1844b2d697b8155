/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * payload_maps.h: settings, maps and counters of payload.bpf.c (the payload object's
 * state; included once, by payload.bpf.c). Admission maps and settings: filters.h.
 */
#ifndef TELEGEN_PAYLOAD_MAPS_H
#define TELEGEN_PAYLOAD_MAPS_H

/* Load-time settings (user space overrides them before loading; admission: filters.h). */
const volatile __u32 cfg_max_payload = 4096;
const volatile __u32 cfg_classify_bytes = 8192;
const volatile __u32 cfg_protocols = TG_PL_CLASSIFY_HTTP1 | TG_PL_CLASSIFY_HTTP2;
const volatile __u32 cfg_ignore_tgid = 0;
const volatile __u64 cfg_wakeup_bytes = 4ULL << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} tg_pl_events SEC(".maps");

/* Start of the send that last entered on this CPU. Every send's sys_enter writes it (no
 * other work); the exit uses it only when it is the same thread and syscall number and the
 * thread did not switch out in between (then nothing else ran a syscall on this CPU). */
struct tg_pl_send_start {
	__u64 ns;
	__u64 switches; /* nvcsw + nivcsw of the thread at entry */
	__u32 tid;
	int nr; /* syscall number; -1 once used */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tg_pl_send_start);
} tg_pl_send_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tg_pl_conn);
} tg_pl_conns SEC(".maps");

/* The scratch record: header, then up to 2 * TG_PL_MAX_COPY bytes so that the verifier
 * can bound "offset < MAX" plus "length <= MAX" without relating the two. */
struct tg_pl_scratch {
	struct tg_pl_event ev;
	__u8 data[2 * TG_PL_MAX_COPY];
	__u64 busy;
};

/* One slot per possible CPU (user space sets max_entries); an ARRAY rather than a
 * PERCPU_ARRAY because per-CPU values are limited to 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct tg_pl_scratch);
} tg_pl_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TG_PL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tg_pl_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} tg_dns_ports SEC(".maps");

/* A peer address read from the socket or from a user sockaddr. */
struct tg_pl_peer {
	__u8 addr[TG_ADDR_LEN];
	__u16 port;
	__u16 family;
	__u32 unconnected;
};

/* One chunk of bytes to report. */
struct tg_pl_chunk {
	__u64 ptr;   /* flat buffer or iovec array; 0 = count only */
	__u64 name;  /* user sockaddr of the peer (unconnected UDP), or 0 */
	__u64 bytes; /* bytes moved */
	__u32 iovcnt;
	__u32 is_iov;
};

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&tg_pl_counters, &idx);
	if (v)
		*v += n;
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
}

static __always_inline __u64 rb_flags(void)
{
	if (bpf_ringbuf_query(&tg_pl_events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes) {
		count(TG_PL_CNT_WAKEUPS);
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

#endif /* TELEGEN_PAYLOAD_MAPS_H */
