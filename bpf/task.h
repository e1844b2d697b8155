/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * task.h: small helpers about the current task, shared by the kernel programs (not part
 * of the user-space ABI; that is telegen.h).
 */
#ifndef TELEGEN_TASK_H
#define TELEGEN_TASK_H

/*
 * The process's name: the thread-group leader's comm, not the current thread's. A
 * resolver thread ("isc-net-0000") or a worker thread would otherwise name the process.
 */
static __always_inline void tg_process_comm(char dst[TG_COMM_LEN])
{
	/* Direct (BTF) loads: two 8-byte reads instead of two helper calls. */
	const struct task_struct *leader = bpf_get_current_task_btf()->group_leader;
	__builtin_memcpy(dst, leader->comm, TG_COMM_LEN);
}

#endif /* TELEGEN_TASK_H */
