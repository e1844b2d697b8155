// SPDX-License-Identifier: GPL-2.0-only
/*
 * payload.bpf.c: socket payload capture for TCP and UDP (CO-RE, classic tracepoints).
 *
 * Hooks (see ../shared/notes/kernel-facts.md: no fentry/kprobes here; classic
 * per-syscall tracepoints cost about 107 ns per firing, raw sys_enter/sys_exit 125 ns on
 * every syscall):
 * - tg_pl_exit, one program attached to sys_exit_* of the sends (write, writev, sendto,
 *   sendmsg, sendmmsg, sendfile64, splice) and receives (read, readv, recvfrom, recvmsg,
 *   recvmmsg), tells them apart by syscall number and reads their arguments from the
 *   task's saved user registers (bpf_task_pt_regs: they still hold them at exit), so
 *   nothing is carried from entry; a call that moved nothing costs one comparison and the
 *   fd is resolved only when bytes moved. Receives with MSG_PEEK are skipped (their bytes
 *   are reported by the read that consumes them). One program instead of one per syscall:
 *   the verifier checks the copying code once (start-up 5.8 s -> 0.6 s of CPU).
 * - tg_pl_enter_send, attached to sys_enter_* of the sends, only notes the start time in
 *   a per-CPU slot (tg_pl_send_start), which the exit uses when the thread did not switch
 *   out during the call; otherwise the send is timed at its exit (counted:
 *   TG_PL_CNT_SEND_START_AT_EXIT).
 * Reporting copies up to cfg_max_payload bytes (flat buffer or a bounded iovec walk)
 * through a per-CPU scratch buffer into tg_pl_events.
 * sock/inet_sock_set_state records the socket's role (SYN_SENT = client, SYN_RECV ->
 * ESTABLISHED = server) and reports TCP closes; sys_enter_close reports UDP closes.
 *
 * In-kernel decisions, per socket (tg_pl_conns, LRU, keyed by sock pointer):
 * - UDP: only datagrams whose local or peer port is in tg_dns_ports are captured.
 * - TCP: a local or peer port in tg_dns_ports means DNS (always copied); otherwise the
 *   start of each chunk is classified (HTTP/1 request methods and "HTTP/1.", HTTP/2
 *   preface and SETTINGS frames); a connection that matches nothing within
 *   cfg_classify_bytes is given up (bytes still counted, nothing copied).
 * - include/exclude ports (tg_incl_ports/tg_excl_ports of filters.h, shared with conn.bpf.c; DNS
 *   ports are exempt from the include list) and 1-in-cfg_sample_rate sampling by
 *   connection id, decided once per connection.
 * Events are submitted with BPF_RB_NO_WAKEUP unless the ring holds more than
 * cfg_wakeup_bytes: user space polls every 10 ms (a wake-up costs about 12 µs).
 * Every loss is counted in tg_pl_counters (enum tg_pl_counter).
 *
 * HTTP/2 connections are walked frame by frame so that header frames are always copied
 * whole and only DATA payloads become gaps (payload_h2.h).
 *
 * Parts: payload_maps.h (settings, maps, counters), payload_sock.h (fd -> sock, peers,
 * header addresses), payload_classify.h (HTTP/1, HTTP/2), payload_copy.h (copying the
 * bytes), payload_h2.h (HTTP/2 frame tracking); shared with conn.bpf.c: filters.h,
 * sock.h, task.h, tp_ctx.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "telegen.h"
#include "filters.h"
#include "sock.h"
#include "task.h"
#include "tp_ctx.h"
#include "payload_maps.h"
#include "payload_sock.h"
#include "payload_classify.h"
#include "payload_copy.h"
#include "payload_h2.h"

char LICENSE[] SEC("license") = "GPL";

/* How the exit handler finds the bytes (set per syscall number in tg_pl_exit). */
#define K_FLAT 1  /* buf + len (write/read/sendto/recvfrom) */
#define K_IOV 2   /* iovec array (writev/readv) */
#define K_MSG 3   /* user_msghdr (sendmsg/recvmsg) */
#define K_MMSG 4  /* mmsghdr array (sendmmsg/recvmmsg) */
#define K_COUNT 5 /* byte count only (sendfile/splice) */

/* Arguments of one socket syscall, read from the task's saved registers at sys_exit
 * (kernel-side only: not part of the user-space ABI). */
struct tg_pl_args {
	__u64 sk;       /* struct sock * of the fd */
	__u64 enter_ns;
	__u64 buf;      /* buffer / iovec array / msghdr / mmsghdr array (user pointer) */
	__u64 addr;     /* sendto destination / recvfrom source sockaddr (user pointer) */
	__u32 count;    /* buffer length / iovcnt / vlen */
	__u8 op;        /* enum tg_pl_op */
	__u8 dir;       /* enum tg_pl_dir */
	__u8 l4;        /* enum tg_pl_l4 */
	__u8 _pad0;
};

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
		cookie = ptr_id(sk);
		c->flags |= TG_PL_CF_NO_COOKIE;
		count(TG_PL_CNT_NO_COOKIE);
	}
	c->conn_id = cookie;
	int dns_local = port_listed(&tg_dns_ports, lport);
	int dns_remote = port_listed(&tg_dns_ports, rport);
	int dns = dns_local || dns_remote;
	if (ports_excluded(lport, rport)) {
		c->verdict = TG_PL_V_FILTERED;
		count(TG_PL_CNT_FILTERED);
		return;
	}
	if (!dns && !ports_included(lport, rport)) {
		c->verdict = TG_PL_V_FILTERED;
		count(TG_PL_CNT_FILTERED);
		return;
	}
	if (!sampled_in(cookie)) {
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
		lport = sk_num(sk);
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
	tg_process_comm(e->comm);
	int h2 = c->proto == TG_PL_PROTO_HTTP2 && a->l4 == TG_PL_L4_TCP;
	__u64 dir_total = a->dir == TG_PL_DIR_EGRESS ? e->total_tx : e->total_rx;
	if (h2 && (busy || !ch->ptr))
		h2_lost_chunk((__u64)sk, a->dir, ch->bytes, dir_total);
	if (busy) {
		e->flags |= TG_PL_F_SCRATCH_BUSY;
		bpf_ringbuf_submit(e, rb_flags());
		count(TG_PL_CNT_EVENTS);
		return;
	}
	if (h2 && ch->ptr) {
		h2_chunk(ch, (__u64)sk, a->dir, dir_total, s);
		s->busy = 0;
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
	/* HTTP/1.1 Upgrade to h2c: from the next chunk on, both directions are walked frame
	 * by frame (each starts unsynced and syncs on the client preface or the server's
	 * first frame), so header blocks are copied whole as on prior-knowledge h2c. */
	if (c->proto == TG_PL_PROTO_HTTP1 && (cfg_protocols & TG_PL_CLASSIFY_HTTP2) &&
	    copied >= 16 && s->data[9] == '1' && s->data[10] == '0' && s->data[11] == '1' &&
	    tg_pl_h2c_switch(s, (__u32)copied)) {
		c->proto = TG_PL_PROTO_HTTP2;
		__u64 key = (__u64)sk;
		bpf_map_delete_elem(&tg_pl_h2s, &key);
	}
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
	bpf_map_delete_elem(&tg_pl_h2s, &key);
}

/* ---- which syscalls to look at ---- */

/* The socket behind fd when its bytes may be reported (a TCP or UDP socket of the inet
 * families, not filtered out, not a connected UDP socket off the DNS ports), else NULL. */
static __always_inline struct sock *watched_sock(long fd, __u8 *l4)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (cfg_ignore_tgid && (id >> 32) == cfg_ignore_tgid)
		return 0;
	struct sock *sk = fd_sock(fd, l4);
	if (!sk)
		return 0;
	if (*l4 == TG_PL_L4_TCP) {
		__u64 key = (__u64)sk;
		struct tg_pl_conn *c = bpf_map_lookup_elem(&tg_pl_conns, &key);
		if (c && c->verdict == TG_PL_V_FILTERED)
			return 0;
	} else {
		/* Connected UDP socket on no DNS port: nothing to report. */
		__u16 rport = sk_rport(sk);
		if (rport && !port_listed(&tg_dns_ports, rport) &&
		    !port_listed(&tg_dns_ports, sk_num(sk))) {
			count(TG_PL_CNT_UDP_SKIPPED);
			return 0;
		}
	}
	return sk;
}

/* ---- reporting ---- */

/* Reports what a syscall with arguments `a` moved (ret > 0 bytes). */
static __always_inline int report(const struct tg_pl_args *a, long ret, int kind)
{
	struct tg_pl_job job = {};
	job.a = *a;
	job.pid_tgid = bpf_get_current_pid_tgid();
	job.now = bpf_ktime_get_ns();
	if (!job.a.enter_ns)
		job.a.enter_ns = job.now;
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

/* ---- sends: sys_enter notes the start time ---- */

/* x86-64 numbers of the hooked syscalls (the programs below are attached to several
 * tracepoints each and tell the syscalls apart by number). */
#define NR_READ 0
#define NR_WRITE 1
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDFILE 40
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47
#define NR_SPLICE 275
#define NR_RECVMMSG 299
#define NR_SENDMMSG 307

/* The start of this thread's send `nr`, or 0 when this CPU's slot is not its own (the
 * thread slept or was moved in the syscall): the send is then timed at its exit. */
static __always_inline __u64 send_start(int nr)
{
	__u32 zero = 0;
	struct tg_pl_send_start *st = bpf_map_lookup_elem(&tg_pl_send_start, &zero);
	struct task_struct *t = bpf_get_current_task_btf();
	if (st && st->nr == nr && st->tid == (__u32)bpf_get_current_pid_tgid() &&
	    st->switches == t->nvcsw + t->nivcsw) {
		st->nr = -1; /* used */
		return st->ns;
	}
	count(TG_PL_CNT_SEND_START_AT_EXIT);
	return 0;
}

/* sys_enter of write, writev, sendto, sendmsg, sendmmsg, sendfile64 and splice (one
 * program attached to each): only the start time, in this CPU's slot. */
SEC("tracepoint/syscalls/sys_enter_send")
int tg_pl_enter_send(struct tg_tp_sys_enter_ctx *ctx)
{
	__u32 zero = 0;
	struct tg_pl_send_start *st = bpf_map_lookup_elem(&tg_pl_send_start, &zero);
	if (!st)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	st->ns = bpf_ktime_get_ns();
	st->switches = t->nvcsw + t->nivcsw;
	st->tid = (__u32)bpf_get_current_pid_tgid();
	st->nr = ctx->nr;
	return 0;
}

/* ---- sys_exit: report what moved ----
 * At sys_exit the task's saved user registers still hold the syscall's arguments
 * (x86-64: di, si, dx, r10, r8), so no argument is carried from entry: a call that moved
 * nothing (EAGAIN ends every non-blocking loop) costs one comparison, and the fd is
 * resolved only when bytes moved. */

/* Receives with MSG_PEEK leave the bytes in the socket: the read that consumes them
 * reports them. */
#define MSG_PEEK_ 0x2

/*
 * sys_exit of the twelve socket I/O syscalls: one program attached to each tracepoint, so
 * the kernel verifies (and keeps) the copying code once instead of once per syscall.
 * Arguments: read(fd, buf, n); write(fd, buf, n); readv/writev(fd, iov, iovcnt);
 * sendto/recvfrom(fd, buf, n, flags, addr, addrlen); sendmsg/recvmsg(fd, msg, flags);
 * sendmmsg/recvmmsg(fd, vec, vlen, flags); sendfile64(out, in, off, n);
 * splice(in, off_in, out, off_out, n, flags).
 */
SEC("tracepoint/syscalls/sys_exit_socket_io")
int tg_pl_exit(struct tg_tp_sys_exit_ctx *ctx)
{
	long ret = ctx->ret;
	if (ret <= 0)
		return 0;
	int nr = ctx->nr;
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!r)
		return 0;
	long fd = (long)r->di;
	__u64 buf = r->si, addr = 0, cnt = r->dx;
	int kind = K_FLAT;
	__u8 op, dir = TG_PL_DIR_EGRESS;
	switch (nr) {
	case NR_READ:
		op = TG_PL_OP_READ;
		dir = TG_PL_DIR_INGRESS;
		break;
	case NR_WRITE:
		op = TG_PL_OP_WRITE;
		break;
	case NR_READV:
		kind = K_IOV;
		op = TG_PL_OP_READV;
		dir = TG_PL_DIR_INGRESS;
		break;
	case NR_WRITEV:
		kind = K_IOV;
		op = TG_PL_OP_WRITEV;
		break;
	case NR_SENDTO:
		op = TG_PL_OP_SENDTO;
		addr = r->r8;
		break;
	case NR_RECVFROM:
		if (r->r10 & MSG_PEEK_)
			return 0;
		op = TG_PL_OP_RECVFROM;
		dir = TG_PL_DIR_INGRESS;
		addr = r->r8;
		break;
	case NR_SENDMSG:
		kind = K_MSG;
		op = TG_PL_OP_SENDMSG;
		cnt = 0;
		break;
	case NR_RECVMSG:
		if (r->dx & MSG_PEEK_)
			return 0;
		kind = K_MSG;
		op = TG_PL_OP_RECVMSG;
		dir = TG_PL_DIR_INGRESS;
		cnt = 0;
		break;
	case NR_SENDMMSG:
		kind = K_MMSG;
		op = TG_PL_OP_SENDMMSG;
		break;
	case NR_RECVMMSG:
		if (r->r10 & MSG_PEEK_)
			return 0;
		kind = K_MMSG;
		op = TG_PL_OP_RECVMMSG;
		dir = TG_PL_DIR_INGRESS;
		break;
	case NR_SENDFILE:
		kind = K_COUNT;
		op = TG_PL_OP_SENDFILE;
		buf = cnt = 0;
		break;
	case NR_SPLICE: {
		/* The socket side decides the direction (a byte count only). */
		__u8 l4 = 0;
		kind = K_COUNT;
		op = TG_PL_OP_SPLICE;
		buf = cnt = 0;
		if (!fd_sock((long)r->dx, &l4)) {
			dir = TG_PL_DIR_INGRESS;
		} else {
			fd = (long)r->dx;
		}
		break;
	}
	default:
		return 0;
	}
	__u8 l4 = 0;
	struct sock *sk = watched_sock(fd, &l4);
	if (!sk)
		return 0;
	struct tg_pl_args a = {};
	a.sk = (__u64)sk;
	a.buf = buf;
	a.addr = addr;
	a.count = cnt > 0xffffffffULL ? 0xffffffffU : (__u32)cnt;
	a.op = op;
	a.dir = dir;
	a.l4 = l4;
	if (dir == TG_PL_DIR_EGRESS)
		a.enter_ns = send_start(nr);
	return report(&a, ret, kind);
}

/* close(fd) of a UDP socket user space has seen (TCP closes come from the state). */
SEC("tracepoint/syscalls/sys_enter_close")
int tg_pl_enter_close(struct tg_tp_sys_enter_ctx *ctx)
{
	__u8 l4 = 0;
	struct sock *sk = fd_sock((long)ctx->args[0], &l4);
	if (sk && l4 == TG_PL_L4_UDP)
		report_close(sk, TG_PL_OP_CLOSE);
	return 0;
}

/* Roles of new TCP connections, and closes. */
SEC("tracepoint/sock/inet_sock_set_state")
int tg_pl_state(struct tg_tp_state_ctx *ctx)
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
