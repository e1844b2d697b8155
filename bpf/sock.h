/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * sock.h: reading a struct sock's addresses, ports and namespace (CO-RE), shared by the
 * kernel programs (not part of the user-space ABI; that is telegen.h).
 */
#ifndef TELEGEN_SOCK_H
#define TELEGEN_SOCK_H

/* Kernel constants that vmlinux.h lacks (they are macros). */
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_ 2
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7

/*
 * Local and remote address into saddr/daddr as the events carry them (network order;
 * IPv4 in the first 4 bytes, the rest zeroed). Returns the address family.
 */
static __always_inline __u16 sk_addrs(const struct sock *sk, __u8 (*saddr)[TG_ADDR_LEN],
				      __u8 (*daddr)[TG_ADDR_LEN])
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == TG_AF_INET6) {
		BPF_CORE_READ_INTO(saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		__builtin_memset(saddr, 0, TG_ADDR_LEN);
		__builtin_memset(daddr, 0, TG_ADDR_LEN);
		BPF_CORE_READ_INTO((__u32 *)saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)daddr, sk, __sk_common.skc_daddr);
	}
	return family;
}

/* Local port from inet_sport: still set after tcp_set_state(CLOSE) cleared inet_num. */
static __always_inline __u16 sk_lport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

/* Local port from skc_num (the bound port; 0 once a TCP socket reached CLOSE). */
static __always_inline __u16 sk_num(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

/* Remote port (0 when not connected). */
static __always_inline __u16 sk_rport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* Inode of the socket's network namespace. */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

#endif /* TELEGEN_SOCK_H */
