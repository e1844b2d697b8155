/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * telegen.h: the one ABI shared by the kernel programs (bpf/NAME.bpf.c) and user space
 * (crates/telegen/src/capture/{tcp,payload}/abi.rs mirror it; capture/abi_check.rs checks).
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

/* ---- payload capture (payload.bpf.c) ---- */
/*
 * Socket payload chunks from the syscall tracepoints. User-space mirror:
 * crates/telegen/src/capture/payload/abi.rs (size/offset asserts).
 */

#define TG_PL_MAX_COPY 16384 /* hard cap of payload bytes per event (power of 2) */
#define TG_PL_MAX_IOV 16     /* iovec segments walked per syscall; the rest becomes a gap */
#define TG_PL_MAX_MMSG 8     /* messages reported per sendmmsg/recvmmsg; the rest counted */
#define TG_PL_CLASSIFY_LEN 16 /* bytes read from a chunk's start to classify it */

/* struct tg_pl_event.type */
enum tg_pl_event_type {
	TG_PL_EV_DATA = 1,  /* bytes moved by one syscall (or one message of an mmsg call) */
	TG_PL_EV_CLOSE = 2, /* the socket closed; totals are lifetime totals */
};

/* struct tg_pl_event.dir (from the local socket's point of view) */
enum tg_pl_dir {
	TG_PL_DIR_EGRESS = 0,  /* sent by the local process */
	TG_PL_DIR_INGRESS = 1, /* received by the local process */
};

/* struct tg_pl_event.l4 */
enum tg_pl_l4 {
	TG_PL_L4_TCP = 1,
	TG_PL_L4_UDP = 2,
};

/* struct tg_pl_event.proto: what the kernel classified the connection as */
enum tg_pl_proto {
	TG_PL_PROTO_UNKNOWN = 0,
	TG_PL_PROTO_HTTP1 = 1,
	TG_PL_PROTO_HTTP2 = 2,
	TG_PL_PROTO_DNS = 3, /* by port (cfg DNS port set), not by content */
};

/* Bits of cfg_protocols: which content classifiers are on. */
#define TG_PL_CLASSIFY_HTTP1 0x1
#define TG_PL_CLASSIFY_HTTP2 0x2

/* struct tg_pl_event.op: the syscall that moved the bytes */
enum tg_pl_op {
	TG_PL_OP_WRITE = 1,
	TG_PL_OP_WRITEV = 2,
	TG_PL_OP_SENDTO = 3,
	TG_PL_OP_SENDMSG = 4,
	TG_PL_OP_SENDMMSG = 5,
	TG_PL_OP_READ = 6,
	TG_PL_OP_READV = 7,
	TG_PL_OP_RECVFROM = 8,
	TG_PL_OP_RECVMSG = 9,
	TG_PL_OP_RECVMMSG = 10,
	TG_PL_OP_SENDFILE = 11, /* byte count only */
	TG_PL_OP_SPLICE = 12,   /* byte count only */
	TG_PL_OP_CLOSE = 13,    /* close() of a UDP socket */
	TG_PL_OP_STATE = 14,    /* TCP state change to CLOSE */
};

/* struct tg_pl_event.flags */
#define TG_PL_F_IOV_TRUNC 0x01   /* more iovec segments than TG_PL_MAX_IOV: rest not copied */
#define TG_PL_F_FAULT 0x02       /* reading user memory failed: rest not copied */
#define TG_PL_F_UNCONNECTED 0x04 /* UDP without a connected peer: daddr/dport from sockaddr */
#define TG_PL_F_NO_COOKIE 0x08   /* conn_id derived from the sock pointer, not the cookie */
#define TG_PL_F_SCRATCH_BUSY 0x10 /* scratch buffer in use on this CPU: nothing copied */

/* Role of the local socket (same values as enum tg_role). */

/* Indexes of the tg_pl_counters PERCPU_ARRAY (user space sums the CPUs). */
enum tg_pl_counter {
	TG_PL_CNT_EVENTS = 0,          /* events submitted */
	TG_PL_CNT_RB_FAIL = 1,         /* events lost: ring buffer full */
	TG_PL_CNT_SEND_START_AT_EXIT = 2, /* sends timed at their exit (slept or moved CPU) */
	TG_PL_CNT_SCRATCH_BUSY = 3,    /* chunks not copied: per-CPU scratch in use */
	TG_PL_CNT_CONN_FULL = 4,       /* connection state insertions that failed */
	TG_PL_CNT_CLASSIFY_MISS = 5,   /* connections given up: no protocol after N bytes */
	TG_PL_CNT_SKIPPED_BYTES = 6,   /* bytes not copied: unclassified or given-up connections */
	TG_PL_CNT_FILTERED = 7,        /* connections dropped by include/exclude ports */
	TG_PL_CNT_SAMPLED_OUT = 8,     /* connections dropped by sample_rate */
	TG_PL_CNT_TRUNCATED = 9,       /* chunks longer than cfg_max_payload (tail is a gap) */
	TG_PL_CNT_IOV_TRUNC = 10,      /* chunks with more than TG_PL_MAX_IOV segments */
	TG_PL_CNT_READ_FAULT = 11,     /* bpf_probe_read_user failures */
	TG_PL_CNT_MMSG_TRUNC = 12,     /* messages beyond TG_PL_MAX_MMSG in one mmsg call */
	TG_PL_CNT_WAKEUPS = 13,        /* submits that woke the reader (fill threshold) */
	TG_PL_CNT_NO_COOKIE = 14,      /* connections whose socket had no cookie yet */
	TG_PL_CNT_UDP_SKIPPED = 15,    /* UDP datagrams not on a DNS port (not captured) */
	TG_PL_CNT_CLASSIFIED = 16,     /* connections classified (HTTP/1, HTTP/2 or DNS) */
	TG_PL_CNT_H2_HEADERS_CUT = 17, /* HTTP/2 chunks whose header-frame bytes may be lost */
	TG_PL_CNT_MAX = 18,
};

/*
 * One payload event header (128 bytes); `copied` payload bytes follow it in the ring
 * buffer record. Addresses as in struct tg_conn_event (network order; IPv4 in the first
 * 4 bytes); ports in host order. saddr/sport = the local socket, daddr/dport = the peer.
 * Bytes of this chunk not copied (bytes - copied) are a gap. total_tx/total_rx count
 * every byte the kernel saw on the socket (including this chunk), so user space can turn
 * lost or unclassified chunks into gaps: chunk start = total_<dir> - bytes.
 */
struct tg_pl_event {
	__u64 enter_ns; /* send: syscall entry (or exit_ns, see SEND_START_AT_EXIT); receive:
			 * exit_ns (bpf_ktime_get_ns, CLOCK_MONOTONIC) */
	__u64 exit_ns;  /* syscall exit (CLOSE: when it closed) */
	__u64 conn_id;  /* socket cookie, or hashed sock pointer (TG_PL_F_NO_COOKIE) */
	__u64 bytes;    /* bytes the syscall (message) moved */
	__u64 total_tx;
	__u64 total_rx;
	__u32 pid;      /* tgid */
	__u32 tid;
	__u32 copied;   /* payload bytes that follow */
	__u32 netns;
	__u8 saddr[TG_ADDR_LEN];
	__u8 daddr[TG_ADDR_LEN];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 type;  /* enum tg_pl_event_type */
	__u8 dir;   /* enum tg_pl_dir */
	__u8 l4;    /* enum tg_pl_l4 */
	__u8 role;  /* enum tg_role */
	__u8 proto; /* enum tg_pl_proto */
	__u8 op;    /* enum tg_pl_op */
	__u8 flags; /* TG_PL_F_* */
	__u8 _pad0;
	__u16 _pad1;
	char comm[TG_COMM_LEN];
};

/* struct tg_pl_conn.verdict */
enum tg_pl_verdict {
	TG_PL_V_NEW = 0,      /* seen at SYN time, not admitted yet */
	TG_PL_V_PENDING = 1,  /* admitted, classifying */
	TG_PL_V_COPY = 2,     /* classified (or DNS port): copy payload */
	TG_PL_V_SKIP = 3,     /* no protocol after cfg_classify_bytes: count only */
	TG_PL_V_FILTERED = 4, /* excluded by ports or sampling */
};

/* struct tg_pl_conn.flags */
#define TG_PL_CF_EMITTED 0x1 /* user space has seen the socket: report its close */
#define TG_PL_CF_NO_COOKIE 0x2

/* The kernel's per-socket payload state (tg_pl_conns, LRU_HASH keyed by sock pointer). */
struct tg_pl_conn {
	__u64 conn_id;
	__u64 total_tx;
	__u64 total_rx;
	__u32 pid;     /* last process that moved bytes (for CLOSE from softirq) */
	__u8 role;     /* enum tg_role */
	__u8 verdict;  /* enum tg_pl_verdict */
	__u8 proto;    /* enum tg_pl_proto */
	__u8 flags;    /* TG_PL_CF_* */
	/* Unconnected UDP: the last DNS peer sent to, for answers read without an address
	 * (recvfrom with a NULL src_addr, read, recvmsg without msg_name). */
	__u8 peer_addr[TG_ADDR_LEN];
	__u16 peer_port;
	__u16 peer_family;
	__u32 netns;
	/* TCP: the connection's addresses, read from the sock once (first payload). */
	__u8 laddr[TG_ADDR_LEN];
	__u8 raddr[TG_ADDR_LEN];
	__u16 lport;
	__u16 rport;
	__u16 family;
	__u16 addr_cached;
};

#endif /* TELEGEN_H */
