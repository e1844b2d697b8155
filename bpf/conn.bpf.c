// SPDX-License-Identifier: GPL-2.0-only
/*
 * conn.bpf.c: TCP connection observability (CO-RE).
 *
 * Lifecycle from sock:inet_sock_set_state, RTT/periodic stats from tcp:tcp_probe,
 * retransmits from tcp:tcp_retransmit_skb, RST direction from tcp:tcp_{receive,send}_reset,
 * the accepting process from syscalls:sys_exit_accept{,4}, pre-existing connections
 * from an iter/tcp iterator. Every hook exists twice: tp_btf (preferred) and a classic
 * tracepoint (fallback); the loader attaches one of them.
 *
 * Event order per connection: OPEN, ESTABLISHED, (RTT|STATS|RETRANSMIT)*, [ERROR], CLOSE.
 * - Client: state created at CLOSE->SYN_SENT (process context: pid/comm of connect()),
 *   OPEN is emitted when the local port is known (SYN_SENT->ESTABLISHED or ->CLOSE).
 * - Server: state created at SYN_RECV->ESTABLISHED (softirq, no owner); OPEN and
 *   ESTABLISHED are emitted when accept()/accept4() returns the socket (pid/comm of the
 *   caller), or at close if it was never accepted (pid 0).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "telegen.h"
#include "filters.h"
#include "sock.h"
#include "task.h"
#include "tp_ctx.h"

char LICENSE[] SEC("license") = "GPL";

#define ECONNRESET_ 104
#define ETIMEDOUT_ 110
#define ECONNREFUSED_ 111

/* Load-time settings (user space overrides them before loading; admission: filters.h). */
const volatile __u32 cfg_emit_rtt = 1;
const volatile __u32 cfg_emit_retransmits = 1;
const volatile __u32 cfg_emit_stats = 1;
const volatile __u64 cfg_rtt_interval_ns = 1000000000ULL;
const volatile __u64 cfg_stats_interval_ns = 15000000000ULL;
const volatile __u64 cfg_wakeup_bytes = 4ULL << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} tg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tg_conn_state);
} tg_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TG_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tg_counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tg_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline void submit(struct tg_conn_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&tg_events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
		count(TG_CNT_WAKEUPS);
	}
	bpf_ringbuf_submit(e, flags);
	count(TG_CNT_EVENTS);
}

/*
 * Payload bytes acknowledged / received. The kernel counters cover sequence space, so
 * they include the SYN (bytes_acked of the client: its SYN is acked through tcp_ack)
 * and the FINs (bytes_acked once our FIN is acked; bytes_received once the peer's FIN
 * arrived, which sets SOCK_DONE). Those are subtracted so the numbers are payload only.
 * For connections of unknown role (found at start-up) the SYN cannot be told: +-1.
 * `state`: the TCP state the connection is in (for a close: the state before CLOSE).
 */
static __always_inline void data_bytes(const struct sock *sk, __u8 role, int state,
				       __u64 *sent, __u64 *received)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 rcvd = BPF_CORE_READ(tp, bytes_received);
	if (role == TG_ROLE_CLIENT && acked)
		acked--;
	/* FIN_WAIT1=4 FIN_WAIT2=5 TIME_WAIT=6 LAST_ACK=9 CLOSING=11: our FIN was sent */
	if ((state == 4 || state == 5 || state == 6 || state == 9 || state == 11) && acked &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		acked--;
	if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DONE)) && rcvd)
		rcvd--;
	*sent = acked;
	*received = rcvd;
}

/* The socket's addresses, ports, namespace and counters into a zeroed event. */
static __always_inline void fill_sock(struct tg_conn_event *e, const struct sock *sk, __u8 role,
				      int state)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	e->family = sk_addrs(sk, &e->saddr, &e->daddr);
	e->sport = sk_lport(sk);
	e->dport = sk_rport(sk);
	e->netns = sk_netns(sk);
	data_bytes(sk, role, state, &e->bytes_sent, &e->bytes_received);
	e->segs_in = BPF_CORE_READ(tp, segs_in);
	e->segs_out = BPF_CORE_READ(tp, segs_out);
	e->retransmits = BPF_CORE_READ(tp, total_retrans);
	e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
}

/* Reserve and fill an event from the socket and its state. NULL when the ring is full. */
static __always_inline struct tg_conn_event *
fill_st(const struct sock *sk, const struct tg_conn_state *st, __u8 type, __u64 ts, int state)
{
	struct tg_conn_event *e = bpf_ringbuf_reserve(&tg_events, sizeof(*e), 0);
	if (!e) {
		count(TG_CNT_RB_RESERVE_FAIL);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = ts;
	e->type = type;
	fill_sock(e, sk, st ? st->role : TG_ROLE_UNKNOWN, state);
	if (st) {
		e->conn_id = st->conn_id;
		e->pid = st->pid;
		e->role = st->role;
		__builtin_memcpy(e->comm, st->comm, TG_COMM_LEN);
	}
	return e;
}

static __always_inline struct tg_conn_event *
fill(const struct sock *sk, const struct tg_conn_state *st, __u8 type, __u64 ts)
{
	return fill_st(sk, st, type, ts, BPF_CORE_READ(sk, __sk_common.skc_state));
}

static __always_inline void emit(const struct sock *sk, const struct tg_conn_state *st,
				 __u8 type, __u64 ts)
{
	struct tg_conn_event *e = fill(sk, st, type, ts);
	if (e)
		submit(e);
}

/* OPEN (+ ESTABLISHED when it happened) once per connection. */
static __always_inline void emit_open(const struct sock *sk, struct tg_conn_state *st)
{
	if (st->flags & TG_F_OPEN_EMITTED)
		return;
	st->flags |= TG_F_OPEN_EMITTED;
	emit(sk, st, TG_EV_OPEN, st->start_ns);
	if (st->established_ns)
		emit(sk, st, TG_EV_ESTABLISHED, st->established_ns);
}

static __always_inline struct tg_conn_state *
create_state(const struct sock *sk, __u64 conn_id, __u8 role, __u8 flags, int with_task)
{
	__u64 key = (__u64)sk;
	struct tg_conn_state st = {};
	st.conn_id = conn_id;
	st.start_ns = bpf_ktime_get_ns();
	st.last_rtt_ns = st.start_ns;
	st.last_stats_ns = st.start_ns;
	st.role = role;
	st.flags = flags;
	if (with_task) {
		st.pid = bpf_get_current_pid_tgid() >> 32;
		tg_process_comm(st.comm);
	}
	if (bpf_map_update_elem(&tg_conns, &key, &st, BPF_ANY)) {
		count(TG_CNT_MAP_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(&tg_conns, &key);
}

/* Admission of a new connection: filters and sampling (counted once, here). */
static __always_inline int admit(const struct sock *sk, __u64 conn_id, int count_drops)
{
	__u16 lport = sk_lport(sk), rport = sk_rport(sk);
	if (ports_excluded(lport, rport) || !ports_included(lport, rport)) {
		if (count_drops)
			count(TG_CNT_FILTERED);
		return 0;
	}
	if (!sampled_in(conn_id)) {
		if (count_drops)
			count(TG_CNT_SAMPLED_OUT);
		return 0;
	}
	return 1;
}

static __always_inline __u8 classify_close(const struct sock *sk, int oldstate,
					   const struct tg_conn_state *st)
{
	int err = BPF_CORE_READ(sk, sk_err);
	if (oldstate == TCP_SYN_SENT_) {
		if (err == ECONNREFUSED_ || (st->flags & TG_F_RST_RX))
			return TG_ERR_REFUSED;
		if (err == ETIMEDOUT_ || err == 0)
			return TG_ERR_TIMEOUT;
		return TG_ERR_OTHER;
	}
	if ((st->flags & (TG_F_RST_RX | TG_F_RST_TX)) || err == ECONNRESET_)
		return TG_ERR_RESET;
	if (err)
		return TG_ERR_OTHER;
	return TG_ERR_NONE;
}

/* conn_id: the socket cookie, or 0 to derive one from the pointer. */
static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate,
				    __u64 conn_id)
{
	__u64 key = (__u64)sk;
	struct tg_conn_state *st;

	if (!conn_id)
		conn_id = ptr_id(sk);

	if (newstate == TCP_SYN_SENT_) {
		if (!admit(sk, conn_id, 1))
			return 0;
		create_state(sk, conn_id, TG_ROLE_CLIENT, 0, 1);
		return 0;
	}

	/* FIN_WAIT*, CLOSE_WAIT, LAST_ACK, SYN_RECV...: nothing to do, no lookup. */
	if (newstate != TCP_ESTABLISHED_ && newstate != TCP_CLOSE_)
		return 0;

	st = bpf_map_lookup_elem(&tg_conns, &key);

	if (newstate == TCP_ESTABLISHED_) {
		__u64 now = bpf_ktime_get_ns();
		if (oldstate == TCP_SYN_RECV_ && !st) {
			if (!admit(sk, conn_id, 1))
				return 0;
			st = create_state(sk, conn_id, TG_ROLE_SERVER, 0, 0);
			if (st)
				st->established_ns = now;
			return 0; /* OPEN comes with accept() */
		}
		if (!st) /* connect() began before we attached */
			return 0;
		st->established_ns = now;
		if (st->role == TG_ROLE_CLIENT)
			emit_open(sk, st);
		return 0;
	}

	if (!st) {
		if (oldstate != 10 /* LISTEN */ && oldstate != TCP_CLOSE_)
			count(TG_CNT_UNTRACKED_CLOSE);
		return 0;
	}
	emit_open(sk, st);
	__u8 err = classify_close(sk, oldstate, st);
	__u64 now = bpf_ktime_get_ns();
	if (err != TG_ERR_NONE) {
		struct tg_conn_event *e = fill_st(sk, st, TG_EV_ERROR, now, oldstate);
		if (e) {
			e->error = err;
			e->old_state = oldstate;
			e->new_state = newstate;
			submit(e);
		}
	}
	struct tg_conn_event *e = fill_st(sk, st, TG_EV_CLOSE, now, oldstate);
	if (e) {
		e->error = err;
		e->old_state = oldstate;
		e->new_state = newstate;
		submit(e);
	}
	bpf_map_delete_elem(&tg_conns, &key);
	return 0;
}

/* tcp_probe: RTT samples, periodic stats, and late tracking of untracked connections. */
static __always_inline int on_probe(const struct sock *sk, __u64 cookie)
{
	__u64 key = (__u64)sk;
	__u64 now = bpf_ktime_get_ns();
	struct tg_conn_state *st = bpf_map_lookup_elem(&tg_conns, &key);
	if (!st) {
		if (!cookie)
			return 0;
		if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_ESTABLISHED_)
			return 0;
		if (!admit(sk, cookie, 0))
			return 0;
		st = create_state(sk, cookie, TG_ROLE_UNKNOWN, TG_F_OPEN_EMITTED | TG_F_EXISTING, 0);
		if (!st)
			return 0;
		count(TG_CNT_LAZY_TRACKED);
		struct tg_conn_event *e = fill(sk, st, TG_EV_EXISTING, now);
		if (e) {
			struct socket *so = BPF_CORE_READ(sk, sk_socket);
			if (so)
				e->sock_ino = BPF_CORE_READ(so, file, f_inode, i_ino);
			submit(e);
		}
		return 0;
	}
	if (!(st->flags & TG_F_OPEN_EMITTED))
		return 0;
	if (cfg_emit_rtt && now - st->last_rtt_ns >= cfg_rtt_interval_ns) {
		st->last_rtt_ns = now;
		emit(sk, st, TG_EV_RTT, now);
	}
	if (cfg_emit_stats && now - st->last_stats_ns >= cfg_stats_interval_ns) {
		st->last_stats_ns = now;
		emit(sk, st, TG_EV_STATS, now);
	}
	return 0;
}

static __always_inline int on_retransmit(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tg_conn_state *st = bpf_map_lookup_elem(&tg_conns, &key);
	if (!st)
		return 0;
	st->retrans++;
	if (cfg_emit_retransmits && (st->flags & TG_F_OPEN_EMITTED))
		emit(sk, st, TG_EV_RETRANSMIT, bpf_ktime_get_ns());
	return 0;
}

static __always_inline int on_reset(const struct sock *sk, __u8 flag)
{
	__u64 key = (__u64)sk;
	if (!sk)
		return 0;
	struct tg_conn_state *st = bpf_map_lookup_elem(&tg_conns, &key);
	if (st)
		st->flags |= flag;
	return 0;
}

/* accept()/accept4() returned fd: find its sock and record the owner. */
static __always_inline int on_accept(long fd)
{
	struct file *f = tg_fd_file(fd);
	if (!f)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	if (!so)
		return 0;
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return 0;
	__u64 key = (__u64)sk;
	struct tg_conn_state *st = bpf_map_lookup_elem(&tg_conns, &key);
	if (!st) {
		count(TG_CNT_ACCEPT_UNTRACKED);
		return 0;
	}
	if (st->flags & TG_F_OPEN_EMITTED)
		return 0;
	st->pid = bpf_get_current_pid_tgid() >> 32;
	tg_process_comm(st->comm);
	emit_open(sk, st);
	return 0;
}

/* ---- tp_btf programs (preferred) ---- */

/*
 * tp_btf arguments are trusted BTF pointers: the verifier forbids arithmetic on them
 * (hashing, using them as map keys). The shared handlers only read through
 * BPF_CORE_READ, so they get the address as a plain number, as classic tracepoints do.
 */
static __always_inline const struct sock *launder(const struct sock *sk)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), &sk);
	return (const struct sock *)v;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tg_btf_state, const struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_)
		return 0;
	/* Only creation needs the id; ask for the cookie only then. */
	__u64 id = 0;
	if (newstate == TCP_SYN_SENT_ || (newstate == TCP_ESTABLISHED_ && oldstate == TCP_SYN_RECV_))
		id = bpf_get_socket_cookie((void *)sk);
	return on_state(launder(sk), oldstate, newstate, id);
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(tg_btf_probe, struct sock *sk, const struct sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	return on_probe(launder(sk), cookie);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tg_btf_retx, const struct sock *sk, const struct sk_buff *skb, int err)
{
	return on_retransmit(launder(sk));
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tg_btf_rst_rx, struct sock *sk)
{
	return on_reset(launder(sk), TG_F_RST_RX);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tg_btf_rst_tx, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	return on_reset(launder(sk), TG_F_RST_TX);
}

/* ---- classic tracepoint programs (fallback); contexts in tp_ctx.h ---- */

SEC("tracepoint/sock/inet_sock_set_state")
int tg_tp_state(struct tg_tp_state_ctx *ctx)
{
	if (ctx->protocol != IPPROTO_TCP_)
		return 0;
	const struct sock *sk = ctx->skaddr;
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	return on_state(sk, ctx->oldstate, ctx->newstate, cookie);
}

SEC("tracepoint/tcp/tcp_probe")
int tg_tp_probe(struct tg_tp_probe_ctx *ctx)
{
	return on_probe(ctx->skaddr, ctx->sock_cookie);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tg_tp_retx(struct tg_tp_retx_ctx *ctx)
{
	return on_retransmit(ctx->skaddr);
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tg_tp_rst_rx(struct tg_tp_rst_rx_ctx *ctx)
{
	return on_reset(ctx->skaddr, TG_F_RST_RX);
}

SEC("tracepoint/tcp/tcp_send_reset")
int tg_tp_rst_tx(struct tg_tp_retx_ctx *ctx)
{
	return on_reset(ctx->skaddr, TG_F_RST_TX);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tg_tp_accept4(struct tg_tp_sys_exit_ctx *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tg_tp_accept(struct tg_tp_sys_exit_ctx *ctx)
{
	return on_accept(ctx->ret);
}

/* ---- pre-existing connections: one record per established socket of the netns ---- */

SEC("iter/tcp")
int tg_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	__u64 cookie = bpf_get_socket_cookie(tp);
	const struct sock *sk = launder((struct sock *)tp);
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_ESTABLISHED_)
		return 0;
	__u64 key = (__u64)sk;
	if (bpf_map_lookup_elem(&tg_conns, &key))
		return 0; /* already tracked (opened after attach or seen on tcp_probe) */
	if (!admit(sk, cookie, 1))
		return 0;
	struct tg_conn_state *st =
		create_state(sk, cookie, TG_ROLE_UNKNOWN, TG_F_OPEN_EMITTED | TG_F_EXISTING, 0);
	if (!st)
		return 0;
	struct tg_conn_event rec = {};
	rec.ts_ns = st->start_ns;
	rec.type = TG_EV_EXISTING;
	rec.conn_id = cookie;
	fill_sock(&rec, sk, TG_ROLE_UNKNOWN, TCP_ESTABLISHED_);
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	if (so)
		rec.sock_ino = BPF_CORE_READ(so, file, f_inode, i_ino);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
