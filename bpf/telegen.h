/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * telegen.h: the one ABI shared by the kernel programs (bpf/NAME.bpf.c) and user space
 * (crates/telegen/src/capture/abi.rs mirrors it with size/offset asserts).
 *
 * Rules: fixed-width fields only, explicit padding, no bool, little-endian host order
 * unless a field says otherwise. Changing a struct here means changing abi.rs too.
 */
#ifndef TELEGEN_H
#define TELEGEN_H

/* Event types of struct tg_conn_event.type. */
enum tg_event_type {
	TG_EV_OPEN = 1,        /* connection opened (client: connect; server: accept) */
	TG_EV_ESTABLISHED = 2, /* reached ESTABLISHED (ts = when it did) */
	TG_EV_EXISTING = 3,    /* found established at start-up / first seen later */
	TG_EV_RTT = 4,         /* RTT sample (at most one per conn per cfg_rtt_interval_ns) */
	TG_EV_STATS = 5,       /* periodic counters of a live connection */
	TG_EV_RETRANSMIT = 6,  /* one retransmitted segment */
	TG_EV_ERROR = 7,       /* connection failed; see .error */
	TG_EV_CLOSE = 8,       /* closed; counters are lifetime totals */
};

/* struct tg_conn_event.role */
enum tg_role {
	TG_ROLE_UNKNOWN = 0,
	TG_ROLE_CLIENT = 1,
	TG_ROLE_SERVER = 2,
};

/* struct tg_conn_event.error */
enum tg_error {
	TG_ERR_NONE = 0,
	TG_ERR_REFUSED = 1, /* RST in answer to our SYN */
	TG_ERR_RESET = 2,   /* RST on an established connection */
	TG_ERR_TIMEOUT = 3, /* SYN_SENT -> CLOSE without an answer */
	TG_ERR_OTHER = 4,
};

/* Indexes of the tg_counters PERCPU_ARRAY (user space sums the CPUs). */
enum tg_counter {
	TG_CNT_EVENTS = 0,           /* events submitted to the ring buffer */
	TG_CNT_RB_RESERVE_FAIL = 1,  /* events lost: ring buffer full */
	TG_CNT_MAP_FULL = 2,         /* tg_conns insertions that failed */
	TG_CNT_FILTERED = 3,         /* connections dropped by include/exclude ports */
	TG_CNT_SAMPLED_OUT = 4,      /* connections dropped by sample_rate */
	TG_CNT_UNTRACKED_CLOSE = 5,  /* closes of sockets without state (evicted/untracked) */
	TG_CNT_WAKEUPS = 6,          /* submits that woke the reader (fill threshold) */
	TG_CNT_LAZY_TRACKED = 7,     /* connections first seen on tcp_probe (state created late) */
	TG_CNT_ACCEPT_UNTRACKED = 8, /* accept() returned a socket we have no state for */
	TG_CNT_MAX = 9,
};

/* Flags of the kernel's per-connection state (not part of events). */
#define TG_F_OPEN_EMITTED 0x1
#define TG_F_RST_RX 0x2
#define TG_F_RST_TX 0x4
#define TG_F_EXISTING 0x8

#define TG_COMM_LEN 16
#define TG_ADDR_LEN 16

#define TG_AF_INET 2
#define TG_AF_INET6 10

/*
 * One connection event (128 bytes). Addresses: IPv4 in the first 4 bytes (network
 * order), IPv6 all 16 bytes (network order). Ports in host order.
 */
struct tg_conn_event {
	__u64 ts_ns;          /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u64 conn_id;        /* socket cookie (or hashed sock pointer) */
	__u64 sock_ino;       /* socket inode (EXISTING only, else 0) */
	__u64 bytes_sent;     /* tcp_sock.bytes_acked */
	__u64 bytes_received; /* tcp_sock.bytes_received */
	__u32 segs_in;
	__u32 segs_out;
	__u32 retransmits;    /* tcp_sock.total_retrans */
	__u32 srtt_us;        /* tcp_sock.srtt_us >> 3 */
	__u32 netns;          /* network-namespace inode */
	__u32 pid;            /* tgid of the owner (0 = unknown) */
	__u8 saddr[TG_ADDR_LEN];
	__u8 daddr[TG_ADDR_LEN];
	__u16 sport;
	__u16 dport;
	__u16 family;         /* TG_AF_INET / TG_AF_INET6 */
	__u8 type;            /* enum tg_event_type */
	__u8 role;            /* enum tg_role */
	__u8 error;           /* enum tg_error */
	__u8 old_state;       /* TCP state before the change (OPEN/ERROR/CLOSE) */
	__u8 new_state;
	__u8 _pad0;
	__u32 _pad1;
	char comm[TG_COMM_LEN];
};

/* The kernel's per-connection state in tg_conns (LRU_HASH keyed by sock pointer). */
struct tg_conn_state {
	__u64 conn_id;
	__u64 start_ns;
	__u64 established_ns;
	__u64 last_rtt_ns;
	__u64 last_stats_ns;
	__u32 pid;
	__u32 retrans;
	__u8 role;
	__u8 flags;
	__u16 _pad0;
	__u32 _pad1;
	char comm[TG_COMM_LEN];
};

#endif /* TELEGEN_H */
