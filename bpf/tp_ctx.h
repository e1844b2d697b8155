/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * tp_ctx.h: contexts of the classic tracepoints the kernel programs attach to, from
 * /sys/kernel/tracing/events/<cat>/<name>/format (not part of the user-space ABI; that
 * is telegen.h). `_common` covers the common_* fields (8 bytes).
 */
#ifndef TELEGEN_TP_CTX_H
#define TELEGEN_TP_CTX_H

/* sock/inet_sock_set_state */
struct tg_tp_state_ctx {
	__u64 _common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

/* tcp/tcp_probe */
struct tg_tp_probe_ctx {
	__u64 _common;
	__u8 saddr[28];
	__u8 daddr[28];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 _pad;
	__u32 mark;
	__u16 data_len;
	__u16 _pad2;
	__u32 snd_nxt;
	__u32 snd_una;
	__u32 snd_cwnd;
	__u32 ssthresh;
	__u32 snd_wnd;
	__u32 srtt;
	__u32 rcv_wnd;
	__u32 _pad3;
	__u64 sock_cookie;
	const void *skbaddr;
	const void *skaddr;
};

/* tcp/tcp_retransmit_skb and tcp/tcp_send_reset (same leading fields) */
struct tg_tp_retx_ctx {
	__u64 _common;
	const void *skbaddr;
	const void *skaddr;
};

/* tcp/tcp_receive_reset */
struct tg_tp_rst_rx_ctx {
	__u64 _common;
	const void *skaddr;
};

/* syscalls/sys_enter_<name>: the syscall number, then its arguments */
struct tg_tp_sys_enter_ctx {
	__u64 _common;
	int nr; /* __syscall_nr (the 4 bytes after it are not initialised) */
	int _pad;
	__u64 args[6];
};

/* syscalls/sys_exit_<name> */
struct tg_tp_sys_exit_ctx {
	__u64 _common;
	int nr; /* __syscall_nr (the 4 bytes after it are not initialised) */
	int _pad;
	long ret;
};

#endif /* TELEGEN_TP_CTX_H */
