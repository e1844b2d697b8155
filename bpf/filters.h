/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * filters.h: admission of connections, shared by the kernel programs (not part of the
 * user-space ABI; that is telegen.h): include/exclude port maps, 1-in-N sampling by
 * connection id, and the fallback id of a socket without a cookie.
 *
 * User space (crates/telegen/src/capture/bpf/loader.rs, `Admission`) sets cfg_sample_rate,
 * cfg_use_include and cfg_use_exclude, sizes the two maps and fills them. Include one
 * per object (it defines the maps and settings).
 */
#ifndef TELEGEN_FILTERS_H
#define TELEGEN_FILTERS_H

/* Load-time settings (user space overrides them before loading). */
const volatile __u32 cfg_sample_rate = 1;
const volatile __u32 cfg_use_include = 0;
const volatile __u32 cfg_use_exclude = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} tg_incl_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} tg_excl_ports SEC(".maps");

static __always_inline __u64 mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Fallback connection id when the socket has no cookie: hashed pointer, top bit set. */
static __always_inline __u64 ptr_id(const struct sock *sk)
{
	return mix64((__u64)sk ^ bpf_ktime_get_ns()) | (1ULL << 63);
}

/* 1 when port (non-zero) is a key of the port map. */
static __always_inline int port_listed(void *map, __u16 port)
{
	return port && bpf_map_lookup_elem(map, &port) != 0;
}

/* 1 when the exclude list is on and either port is in it. */
static __always_inline int ports_excluded(__u16 lport, __u16 rport)
{
	return cfg_use_exclude &&
	       (port_listed(&tg_excl_ports, lport) || port_listed(&tg_excl_ports, rport));
}

/* 1 when the include list is off or either port is in it. */
static __always_inline int ports_included(__u16 lport, __u16 rport)
{
	return !cfg_use_include ||
	       port_listed(&tg_incl_ports, lport) || port_listed(&tg_incl_ports, rport);
}

/* 1 in cfg_sample_rate connections, decided by a hash of the connection id. */
static __always_inline int sampled_in(__u64 conn_id)
{
	__u32 rate = cfg_sample_rate;
	if (rate <= 1)
		return 1;
	return mix64(conn_id) % rate == 0;
}

#endif /* TELEGEN_FILTERS_H */
