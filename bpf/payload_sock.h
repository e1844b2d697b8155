/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * payload_sock.h: the sockets of payload.bpf.c: fd -> struct sock (AF_INET/AF_INET6 TCP
 * or UDP only), the peer of a chunk, and the address part of event headers.
 */
#ifndef TELEGEN_PAYLOAD_SOCK_H
#define TELEGEN_PAYLOAD_SOCK_H

#define S_IFMT_ 00170000
#define S_IFSOCK_ 0140000
#define SOCK_STREAM_ 1
#define SOCK_DGRAM_ 2

/* The struct sock of fd when it is an AF_INET/AF_INET6 TCP or UDP socket, else NULL. */
static __always_inline struct sock *fd_sock(long fd, __u8 *l4)
{
	struct file *f = tg_fd_file(fd);
	if (!f)
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

/* The peer: the connected address of sk, else the user sockaddr at uaddr (if any). */
static __always_inline void read_peer(const struct sock *sk, __u64 uaddr, struct tg_pl_peer *p)
{
	p->port = sk_rport(sk);
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
	c->family = sk_addrs(sk, &c->laddr, &c->raddr);
	c->lport = sk_num(sk);
	c->rport = sk_rport(sk);
	c->netns = sk_netns(sk);
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
	e->family = sk_addrs(sk, &e->saddr, &e->daddr);
	e->sport = sk_num(sk);
	e->dport = sk_rport(sk);
	e->netns = sk_netns(sk);
}

#endif /* TELEGEN_PAYLOAD_SOCK_H */
