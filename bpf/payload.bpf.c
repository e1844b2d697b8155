// SPDX-License-Identifier: GPL-2.0-only
/*
 * payload.bpf.c: socket payload capture for TCP and UDP (CO-RE, classic tracepoints).
 *
 * Hooks (see ../shared/notes/kernel-facts.md: no fentry/kprobes here; classic
 * per-syscall tracepoints cost about 107 ns per firing, raw sys_enter/sys_exit 125 ns on
 * every syscall): syscalls/sys_enter_* stash the arguments of write, writev, sendto,
 * sendmsg, sendmmsg, read, readv, recvfrom, recvmsg, recvmmsg, sendfile64 and splice in
 * tg_pl_args (per thread) when the fd is an AF_INET/AF_INET6 TCP or UDP socket;
 * syscalls/sys_exit_* read the result and copy up to cfg_max_payload bytes (flat
 * buffer or a bounded iovec walk) through a per-CPU scratch buffer into tg_pl_events.
 * sock/inet_sock_set_state records the socket's role (SYN_SENT = client, SYN_RECV ->
 * ESTABLISHED = server) and reports TCP closes; sys_enter_close reports UDP closes.
 *
 * In-kernel decisions, per socket (tg_pl_conns, LRU, keyed by sock pointer):
 * - UDP: only datagrams whose local or peer port is in tg_dns_ports are captured.
 * - TCP: a local or peer port in tg_dns_ports means DNS (always copied); otherwise the
 *   start of each chunk is classified (HTTP/1 request methods and "HTTP/1.", HTTP/2
 *   preface and SETTINGS frames); a connection that matches nothing within
 *   cfg_classify_bytes is given up (bytes still counted, nothing copied).
 * - include/exclude ports (tg_incl_ports/tg_excl_ports, the layout of conn.bpf.c; DNS
 *   ports are exempt from the include list) and 1-in-cfg_sample_rate sampling by
 *   connection id, decided once per connection.
 * Events are submitted with BPF_RB_NO_WAKEUP unless the ring holds more than
 * cfg_wakeup_bytes: user space polls every 10 ms (a wake-up costs about 12 µs).
 * Every loss is counted in tg_pl_counters (enum tg_pl_counter).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "telegen.h"
#include "task.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT_ 00170000
#define S_IFSOCK_ 0140000
#define SOCK_STREAM_ 1
#define SOCK_DGRAM_ 2
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_ 2
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7

/* How the exit handler finds the bytes (a compile-time constant per program). */
#define K_FLAT 1  /* buf + len (write/read/sendto/recvfrom) */
#define K_IOV 2   /* iovec array (writev/readv) */
#define K_MSG 3   /* user_msghdr (sendmsg/recvmsg) */
#define K_MMSG 4  /* mmsghdr array (sendmmsg/recvmmsg) */
#define K_COUNT 5 /* byte count only (sendfile/splice) */

/* Load-time settings (user space overrides them before loading). */
const volatile __u32 cfg_max_payload = 4096;
const volatile __u32 cfg_classify_bytes = 8192;
const volatile __u32 cfg_protocols = TG_PL_CLASSIFY_HTTP1 | TG_PL_CLASSIFY_HTTP2;
const volatile __u32 cfg_sample_rate = 1;
const volatile __u32 cfg_use_include = 0;
const volatile __u32 cfg_use_exclude = 0;
const volatile __u32 cfg_ignore_tgid = 0;
const volatile __u64 cfg_wakeup_bytes = 4ULL << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} tg_pl_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tg_pl_args);
} tg_pl_args SEC(".maps");

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

static __always_inline __u64 mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static __always_inline int port_listed(void *map, __u16 port)
{
	return port && bpf_map_lookup_elem(map, &port) != 0;
}

static __always_inline __u64 rb_flags(void)
{
	if (bpf_ringbuf_query(&tg_pl_events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes) {
		count(TG_PL_CNT_WAKEUPS);
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* The struct sock of fd when it is an AF_INET/AF_INET6 TCP or UDP socket, else NULL. */
static __always_inline struct sock *fd_sock(long fd, __u8 *l4)
{
	if (fd < 0)
		return 0;
	/* Direct (BTF) loads for the task -> fdtable chain: much cheaper than one
	 * bpf_probe_read_kernel per pointer. */
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	if (!files)
		return 0;
	struct fdtable *fdt = files->fdt;
	if (!fdt)
		return 0;
	if ((unsigned long)fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT_) != S_IFSOCK_)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	if (!so)
		return 0;
	short type = BPF_CORE_READ(so, type);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != TG_AF_INET && family != TG_AF_INET6)
		return 0;
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	if (type == SOCK_STREAM_ && proto == IPPROTO_TCP_)
		*l4 = TG_PL_L4_TCP;
	else if (type == SOCK_DGRAM_ && proto == IPPROTO_UDP_)
		*l4 = TG_PL_L4_UDP;
	else
		return 0;
	return sk;
}

static __always_inline __u16 sk_lport(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

/* The peer: the connected address of sk, else the user sockaddr at uaddr (if any). */
static __always_inline void read_peer(const struct sock *sk, __u64 uaddr, struct tg_pl_peer *p)
{
	p->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	p->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (p->port) {
		if (p->family == TG_AF_INET6)
			BPF_CORE_READ_INTO(&p->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		else
			BPF_CORE_READ_INTO((__u32 *)p->addr, sk, __sk_common.skc_daddr);
		return;
	}
	p->unconnected = 1;
	if (!uaddr)
		return;
	__u8 sa[28] = {};
	if (bpf_probe_read_user(sa, 16, (void *)uaddr))
		return;
	__u16 fam = *(__u16 *)&sa[0];
	if (fam == TG_AF_INET) {
		p->family = TG_AF_INET;
		__builtin_memcpy(p->addr, &sa[4], 4);
	} else if (fam == TG_AF_INET6) {
		if (bpf_probe_read_user(sa, 28, (void *)uaddr))
			return;
		p->family = TG_AF_INET6;
		__builtin_memcpy(p->addr, &sa[8], 16);
	} else {
		return;
	}
	p->port = bpf_ntohs(*(__u16 *)&sa[2]);
}

/* TCP: remember the connection's addresses in its state (they do not change once it is
 * connected), so later chunks need no reads of the sock. */
static __always_inline void cache_addrs(struct tg_pl_conn *c, const struct sock *sk)
{
	c->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (c->family == TG_AF_INET6) {
		BPF_CORE_READ_INTO(&c->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&c->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)c->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)c->raddr, sk, __sk_common.skc_daddr);
	}
	c->lport = sk_lport(sk);
	c->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	c->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	c->addr_cached = c->rport != 0;
}

/* Fill the parts of an event header that come from the socket and its state. */
static __always_inline void fill_hdr(struct tg_pl_event *e, const struct sock *sk,
				     const struct tg_pl_conn *c)
{
	e->conn_id = c->conn_id;
	e->total_tx = c->total_tx;
	e->total_rx = c->total_rx;
	e->role = c->role;
	e->proto = c->proto;
	if (c->addr_cached) {
		e->family = c->family;
		__builtin_memcpy(e->saddr, c->laddr, TG_ADDR_LEN);
		__builtin_memcpy(e->daddr, c->raddr, TG_ADDR_LEN);
		e->sport = c->lport;
		e->dport = c->rport;
		e->netns = c->netns;
		return;
	}
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (e->family == TG_AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		__builtin_memset(e->saddr, 0, TG_ADDR_LEN);
		__builtin_memset(e->daddr, 0, TG_ADDR_LEN);
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	}
	e->sport = sk_lport(sk);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* ---- content classification (the start of a chunk) ---- */

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

/* ---- copying ---- */

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

/* ---- per-socket state ---- */

static __always_inline struct tg_pl_conn *get_conn(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tg_pl_conn *c = bpf_map_lookup_elem(&tg_pl_conns, &key);
	if (c)
		return c;
	struct tg_pl_conn fresh = {};
	if (bpf_map_update_elem(&tg_pl_conns, &key, &fresh, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&tg_pl_conns, &key)) {
		count(TG_PL_CNT_CONN_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(&tg_pl_conns, &key);
}

/* First payload of a socket: decide its identity, admission and what to do with it. */
static __always_inline void admit(struct tg_pl_conn *c, const struct sock *sk, __u8 l4,
				  __u16 lport, __u16 rport)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie) {
		cookie = mix64((__u64)sk ^ bpf_ktime_get_ns()) | (1ULL << 63);
		c->flags |= TG_PL_CF_NO_COOKIE;
		count(TG_PL_CNT_NO_COOKIE);
	}
	c->conn_id = cookie;
	int dns_local = port_listed(&tg_dns_ports, lport);
	int dns_remote = port_listed(&tg_dns_ports, rport);
	int dns = dns_local || dns_remote;
	if (cfg_use_exclude &&
	    (port_listed(&tg_excl_ports, lport) || port_listed(&tg_excl_ports, rport))) {
		c->verdict = TG_PL_V_FILTERED;
		count(TG_PL_CNT_FILTERED);
		return;
	}
	if (cfg_use_include && !dns &&
	    !(port_listed(&tg_incl_ports, lport) || port_listed(&tg_incl_ports, rport))) {
		c->verdict = TG_PL_V_FILTERED;
		count(TG_PL_CNT_FILTERED);
		return;
	}
	__u32 rate = cfg_sample_rate;
	if (rate > 1 && mix64(cookie) % rate != 0) {
		c->verdict = TG_PL_V_FILTERED;
		count(TG_PL_CNT_SAMPLED_OUT);
		return;
	}
	if (dns || l4 == TG_PL_L4_UDP) {
		c->verdict = TG_PL_V_COPY;
		c->proto = TG_PL_PROTO_DNS;
		if (c->role == TG_ROLE_UNKNOWN)
			c->role = dns_remote ? TG_ROLE_CLIENT : TG_ROLE_SERVER;
		count(TG_PL_CNT_CLASSIFIED);
		return;
	}
	c->verdict = TG_PL_V_PENDING;
}

/* Report one chunk that moved `ch->bytes` bytes through sk. */
static __always_inline void handle_chunk(const struct tg_pl_args *a, const struct sock *sk,
					 const struct tg_pl_chunk *ch, __u64 pid_tgid, __u64 now)
{
	struct tg_pl_peer peer = {};
	struct tg_pl_conn *c;
	__u16 lport;
	__u8 dns_role = 0;
	if (a->l4 == TG_PL_L4_TCP) {
		c = get_conn(sk);
		if (!c)
			return;
		if (!c->addr_cached)
			cache_addrs(c, sk);
		lport = c->lport;
		peer.port = c->rport;
	} else {
		read_peer(sk, ch->name, &peer);
		lport = sk_lport(sk);
		if (peer.unconnected && !peer.port) {
			/* An answer read without an address: the peer last sent to. */
			__u64 key = (__u64)sk;
			struct tg_pl_conn *known = bpf_map_lookup_elem(&tg_pl_conns, &key);
			if (known && known->peer_port) {
				peer.port = known->peer_port;
				peer.family = known->peer_family;
				__builtin_memcpy(peer.addr, known->peer_addr, TG_ADDR_LEN);
			}
		}
		if (port_listed(&tg_dns_ports, peer.port))
			dns_role = TG_ROLE_CLIENT;
		else if (port_listed(&tg_dns_ports, lport))
			dns_role = TG_ROLE_SERVER;
		else {
			count(TG_PL_CNT_UDP_SKIPPED);
			return;
		}
		c = get_conn(sk);
		if (!c)
			return;
	}
	if (c->verdict == TG_PL_V_NEW)
		admit(c, sk, a->l4, lport, peer.port);
	if (peer.unconnected && dns_role == TG_ROLE_CLIENT && a->dir == TG_PL_DIR_EGRESS) {
		c->peer_port = peer.port;
		c->peer_family = peer.family;
		__builtin_memcpy(c->peer_addr, peer.addr, TG_ADDR_LEN);
	}
	if (c->verdict == TG_PL_V_FILTERED)
		return;
	if (a->dir == TG_PL_DIR_EGRESS)
		__sync_fetch_and_add(&c->total_tx, ch->bytes);
	else
		__sync_fetch_and_add(&c->total_rx, ch->bytes);
	if (c->verdict == TG_PL_V_SKIP) {
		count_n(TG_PL_CNT_SKIPPED_BYTES, ch->bytes);
		return;
	}
	if (c->verdict == TG_PL_V_PENDING) {
		__u8 head[TG_PL_CLASSIFY_LEN] = {};
		__u32 n = chunk_head(ch, head);
		if (n && classify(c, head, n, a->dir)) {
			c->verdict = TG_PL_V_COPY;
			count(TG_PL_CNT_CLASSIFIED);
		} else {
			if (c->total_tx + c->total_rx >= cfg_classify_bytes) {
				c->verdict = TG_PL_V_SKIP;
				count(TG_PL_CNT_CLASSIFY_MISS);
			}
			count_n(TG_PL_CNT_SKIPPED_BYTES, ch->bytes);
			return;
		}
	}
	/* TG_PL_V_COPY */
	c->flags |= TG_PL_CF_EMITTED;
	c->pid = pid_tgid >> 32;
	__u32 cpu = bpf_get_smp_processor_id();
	struct tg_pl_scratch *s = bpf_map_lookup_elem(&tg_pl_scratch, &cpu);
	struct tg_pl_event *e;
	int busy = !s || s->busy;
	if (busy) {
		/* Preempted user of this CPU's scratch (syscall tracepoints may sleep on new
		 * kernels): report the chunk as a gap. */
		count(TG_PL_CNT_SCRATCH_BUSY);
		e = bpf_ringbuf_reserve(&tg_pl_events, sizeof(*e), 0);
		if (!e) {
			count(TG_PL_CNT_RB_FAIL);
			return;
		}
	} else {
		s->busy = 1;
		e = &s->ev;
	}
	fill_hdr(e, sk, c);
	e->enter_ns = a->enter_ns;
	e->exit_ns = now;
	e->bytes = ch->bytes;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->copied = 0;
	e->type = TG_PL_EV_DATA;
	e->dir = a->dir;
	e->l4 = a->l4;
	e->op = a->op;
	e->flags = 0;
	e->_pad0 = 0;
	e->_pad1 = 0;
	if (c->flags & TG_PL_CF_NO_COOKIE)
		e->flags |= TG_PL_F_NO_COOKIE;
	if (dns_role)
		e->role = dns_role;
	if (peer.unconnected) {
		e->flags |= TG_PL_F_UNCONNECTED;
		e->dport = peer.port;
		__builtin_memcpy(e->daddr, peer.addr, TG_ADDR_LEN);
	}
	tg_process_comm(e->comm, sizeof(e->comm));
	if (busy) {
		e->flags |= TG_PL_F_SCRATCH_BUSY;
		bpf_ringbuf_submit(e, rb_flags());
		count(TG_PL_CNT_EVENTS);
		return;
	}
	__u64 copied = clamp_copy(copy_chunk(s, ch));
	s->ev.copied = copied;
	if (copied < ch->bytes && !(s->ev.flags & (TG_PL_F_FAULT | TG_PL_F_IOV_TRUNC)) && ch->ptr)
		count(TG_PL_CNT_TRUNCATED);
	if (bpf_ringbuf_output(&tg_pl_events, &s->ev, sizeof(s->ev) + copied, rb_flags()))
		count(TG_PL_CNT_RB_FAIL);
	else
		count(TG_PL_CNT_EVENTS);
	s->busy = 0;
}

/* One chunk to report, passed to the global (separately verified) subprogram. */
struct tg_pl_job {
	struct tg_pl_args a;
	struct tg_pl_chunk ch;
	__u64 pid_tgid;
	__u64 now;
};

/* A global function: the verifier checks it once, not once per call site, which keeps
 * the sendmmsg/recvmmsg loop within its budget. */
__noinline int tg_pl_handle(struct tg_pl_job *j)
{
	if (!j)
		return 0;
	handle_chunk(&j->a, (const struct sock *)j->a.sk, &j->ch, j->pid_tgid, j->now);
	return 0;
}

/* CLOSE event for a socket user space has seen; deletes its state. */
static __always_inline void report_close(const struct sock *sk, __u8 op)
{
	__u64 key = (__u64)sk;
	struct tg_pl_conn *c = bpf_map_lookup_elem(&tg_pl_conns, &key);
	if (!c)
		return;
	if (c->flags & TG_PL_CF_EMITTED) {
		struct tg_pl_event *e = bpf_ringbuf_reserve(&tg_pl_events, sizeof(*e), 0);
		if (e) {
			__builtin_memset(e, 0, sizeof(*e));
			fill_hdr(e, sk, c);
			e->enter_ns = e->exit_ns = bpf_ktime_get_ns();
			e->pid = c->pid;
			e->type = TG_PL_EV_CLOSE;
			e->l4 = op == TG_PL_OP_STATE ? TG_PL_L4_TCP : TG_PL_L4_UDP;
			e->op = op;
			if (c->flags & TG_PL_CF_NO_COOKIE)
				e->flags |= TG_PL_F_NO_COOKIE;
			bpf_ringbuf_submit(e, rb_flags());
			count(TG_PL_CNT_EVENTS);
		} else {
			count(TG_PL_CNT_RB_FAIL);
		}
	}
	bpf_map_delete_elem(&tg_pl_conns, &key);
}

/* ---- sys_enter: stash the arguments of socket syscalls ---- */

static __always_inline int stash(long fd, __u8 op, __u8 dir, __u64 buf, __u64 addr, __u64 cnt)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (cfg_ignore_tgid && (id >> 32) == cfg_ignore_tgid)
		return 0;
	__u8 l4 = 0;
	struct sock *sk = fd_sock(fd, &l4);
	if (!sk)
		return 0;
	__u64 key = (__u64)sk;
	if (l4 == TG_PL_L4_TCP) {
		struct tg_pl_conn *c = bpf_map_lookup_elem(&tg_pl_conns, &key);
		if (c && c->verdict == TG_PL_V_FILTERED)
			return 0;
	} else {
		/* Connected UDP socket on no DNS port: nothing to do at exit. */
		__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (rport && !port_listed(&tg_dns_ports, rport) &&
		    !port_listed(&tg_dns_ports, sk_lport(sk))) {
			count(TG_PL_CNT_UDP_SKIPPED);
			return 0;
		}
	}
	struct tg_pl_args a = {};
	a.sk = key;
	a.enter_ns = bpf_ktime_get_ns();
	a.buf = buf;
	a.addr = addr;
	a.count = cnt > 0xffffffffULL ? 0xffffffffU : (__u32)cnt;
	a.op = op;
	a.dir = dir;
	a.l4 = l4;
	if (bpf_map_update_elem(&tg_pl_args, &id, &a, BPF_ANY))
		count(TG_PL_CNT_ARGS_FULL);
	return 0;
}

/* ---- sys_exit: report what moved ---- */

static __always_inline int on_exit(long ret, int kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tg_pl_args *p = bpf_map_lookup_elem(&tg_pl_args, &id);
	if (!p)
		return 0;
	struct tg_pl_job job = {};
	job.a = *p;
	bpf_map_delete_elem(&tg_pl_args, &id);
	if (ret <= 0)
		return 0;
	job.pid_tgid = id;
	job.now = bpf_ktime_get_ns();
	if (kind == K_FLAT) {
		job.ch.ptr = job.a.buf;
		job.ch.name = job.a.addr;
		job.ch.bytes = ret;
	} else if (kind == K_IOV) {
		job.ch.ptr = job.a.buf;
		job.ch.bytes = ret;
		job.ch.iovcnt = job.a.count;
		job.ch.is_iov = 1;
	} else if (kind == K_MSG) {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)job.a.buf)) {
			count(TG_PL_CNT_READ_FAULT);
			return 0;
		}
		job.ch.ptr = (__u64)m.msg_iov;
		job.ch.name = (__u64)m.msg_name;
		job.ch.bytes = ret;
		job.ch.iovcnt = m.msg_iovlen > 0xffffffffULL ? 0xffffffffU : m.msg_iovlen;
		job.ch.is_iov = 1;
	} else if (kind == K_MMSG) {
		if (ret > TG_PL_MAX_MMSG)
			count_n(TG_PL_CNT_MMSG_TRUNC, ret - TG_PL_MAX_MMSG);
		for (__u32 i = 0; i < TG_PL_MAX_MMSG; i++) {
			if (i >= ret)
				break;
			struct mmsghdr mm = {};
			if (bpf_probe_read_user(&mm, sizeof(mm),
						(void *)(job.a.buf + i * sizeof(struct mmsghdr)))) {
				count(TG_PL_CNT_READ_FAULT);
				break;
			}
			if (!mm.msg_len)
				continue;
			job.ch.ptr = (__u64)mm.msg_hdr.msg_iov;
			job.ch.name = (__u64)mm.msg_hdr.msg_name;
			job.ch.bytes = mm.msg_len;
			job.ch.iovcnt =
				mm.msg_hdr.msg_iovlen > 0xffffffffULL ? 0xffffffffU : mm.msg_hdr.msg_iovlen;
			job.ch.is_iov = 1;
			tg_pl_handle(&job);
		}
		return 0;
	} else {
		job.ch.bytes = ret; /* sendfile/splice: ptr 0 = count only */
	}
	tg_pl_handle(&job);
	return 0;
}

struct tg_pl_enter_ctx {
	__u64 _common;
	__u64 _nr;
	__u64 args[6];
};

struct tg_pl_exit_ctx {
	__u64 _common;
	__u64 _nr;
	long ret;
};

#define EG TG_PL_DIR_EGRESS
#define IN TG_PL_DIR_INGRESS

/* Enter programs: (fd, op, dir, buffer argument, sockaddr argument, count argument). */
#define ENTER(name, op, dir, bufarg, addrarg, cntarg)                                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                          \
	int tg_pl_enter_##name(struct tg_pl_enter_ctx *ctx)                                  \
	{                                                                                    \
		return stash((long)ctx->args[0], op, dir, bufarg, addrarg, cntarg);          \
	}

#define EXIT(name, kind)                                                                     \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                           \
	int tg_pl_exit_##name(struct tg_pl_exit_ctx *ctx)                                    \
	{                                                                                    \
		return on_exit(ctx->ret, kind);                                              \
	}

ENTER(write, TG_PL_OP_WRITE, EG, ctx->args[1], 0, ctx->args[2])
ENTER(read, TG_PL_OP_READ, IN, ctx->args[1], 0, ctx->args[2])
ENTER(sendto, TG_PL_OP_SENDTO, EG, ctx->args[1], ctx->args[4], ctx->args[2])
ENTER(recvfrom, TG_PL_OP_RECVFROM, IN, ctx->args[1], ctx->args[4], ctx->args[2])
ENTER(writev, TG_PL_OP_WRITEV, EG, ctx->args[1], 0, ctx->args[2])
ENTER(readv, TG_PL_OP_READV, IN, ctx->args[1], 0, ctx->args[2])
ENTER(sendmsg, TG_PL_OP_SENDMSG, EG, ctx->args[1], 0, 0)
ENTER(recvmsg, TG_PL_OP_RECVMSG, IN, ctx->args[1], 0, 0)
ENTER(sendmmsg, TG_PL_OP_SENDMMSG, EG, ctx->args[1], 0, ctx->args[2])
ENTER(recvmmsg, TG_PL_OP_RECVMMSG, IN, ctx->args[1], 0, ctx->args[2])
ENTER(sendfile64, TG_PL_OP_SENDFILE, EG, 0, 0, ctx->args[3])

EXIT(write, K_FLAT)
EXIT(read, K_FLAT)
EXIT(sendto, K_FLAT)
EXIT(recvfrom, K_FLAT)
EXIT(writev, K_IOV)
EXIT(readv, K_IOV)
EXIT(sendmsg, K_MSG)
EXIT(recvmsg, K_MSG)
EXIT(sendmmsg, K_MMSG)
EXIT(recvmmsg, K_MMSG)
EXIT(sendfile64, K_COUNT)
EXIT(splice, K_COUNT)

/* splice(fd_in, off_in, fd_out, off_out, len, flags): the socket side decides direction. */
SEC("tracepoint/syscalls/sys_enter_splice")
int tg_pl_enter_splice(struct tg_pl_enter_ctx *ctx)
{
	__u8 l4 = 0;
	if (fd_sock((long)ctx->args[2], &l4))
		return stash((long)ctx->args[2], TG_PL_OP_SPLICE, EG, 0, 0, ctx->args[4]);
	return stash((long)ctx->args[0], TG_PL_OP_SPLICE, IN, 0, 0, ctx->args[4]);
}

/* close(fd) of a UDP socket user space has seen (TCP closes come from the state). */
SEC("tracepoint/syscalls/sys_enter_close")
int tg_pl_enter_close(struct tg_pl_enter_ctx *ctx)
{
	__u8 l4 = 0;
	struct sock *sk = fd_sock((long)ctx->args[0], &l4);
	if (sk && l4 == TG_PL_L4_UDP)
		report_close(sk, TG_PL_OP_CLOSE);
	return 0;
}

struct tg_pl_state_ctx {
	__u64 _common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

/* Roles of new TCP connections, and closes. */
SEC("tracepoint/sock/inet_sock_set_state")
int tg_pl_state(struct tg_pl_state_ctx *ctx)
{
	if (ctx->protocol != IPPROTO_TCP_)
		return 0;
	__u64 key = (__u64)ctx->skaddr;
	if (ctx->newstate == TCP_SYN_SENT_ ||
	    (ctx->oldstate == TCP_SYN_RECV_ && ctx->newstate == TCP_ESTABLISHED_)) {
		struct tg_pl_conn c = {};
		c.role = ctx->newstate == TCP_SYN_SENT_ ? TG_ROLE_CLIENT : TG_ROLE_SERVER;
		if (bpf_map_update_elem(&tg_pl_conns, &key, &c, BPF_ANY))
			count(TG_PL_CNT_CONN_FULL);
		return 0;
	}
	if (ctx->newstate == TCP_CLOSE_)
		report_close(ctx->skaddr, TG_PL_OP_STATE);
	return 0;
}
