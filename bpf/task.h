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
static __always_inline void tg_process_comm(char *dst, __u32 len)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ_STR_INTO((char(*)[16])dst, task, group_leader, comm) < 0)
		bpf_get_current_comm(dst, len);
}

#endif /* TELEGEN_TASK_H */
