// SPDX-License-Identifier: GPL-2.0-only
/*
 * probe.bpf.c: one trivial program per hook type, used by `telegen check`
 * (crates/telegen/src/capture/check.rs) to find out what this kernel allows.
 * Each program is loaded and attached separately and detached at once.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} tg_pr_ring SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tg_pr_tp_btf, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tg_pr_tp(void *ctx)
{
	return 0;
}

/* Uses the ring buffer: loading it proves BPF_MAP_TYPE_RINGBUF and its helpers. */
SEC("tracepoint/tcp/tcp_probe")
int tg_pr_ring_tp(void *ctx)
{
	__u64 *v = bpf_ringbuf_reserve(&tg_pr_ring, sizeof(*v), 0);
	if (!v)
		return 0;
	*v = 1;
	bpf_ringbuf_submit(v, BPF_RB_NO_WAKEUP);
	return 0;
}

/* Reads a syscall's saved user registers at sys_exit, as payload.bpf.c's exit programs
 * do for the arguments. */
SEC("tracepoint/syscalls/sys_exit_getppid")
int tg_pr_pt_regs(void *ctx)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return r ? (int)(r->orig_ax & 1) : 0;
}

SEC("fentry/tcp_v4_connect")
int BPF_PROG(tg_pr_fentry, struct sock *sk)
{
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int tg_pr_kprobe(void *ctx)
{
	return 0;
}

SEC("xdp")
int tg_pr_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("classifier")
int tg_pr_tc(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC / TCX_NEXT: let the packet through untouched */
}

SEC("cgroup_skb/ingress")
int tg_pr_cgskb(struct __sk_buff *skb)
{
	return 1;
}

SEC("uprobe")
int tg_pr_uprobe(void *ctx)
{
	return 0;
}

SEC("iter/tcp")
int tg_pr_iter(struct bpf_iter__tcp *ctx)
{
	return 0;
}
