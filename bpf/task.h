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

/*
 * The struct file of the current task's descriptor fd, or NULL. Direct (BTF) loads for the
 * task -> files -> fdtable chain (much cheaper than one bpf_probe_read_kernel per
 * pointer); the array slot itself needs one probe read.
 */
static __always_inline struct file *tg_fd_file(long fd)
{
	if (fd < 0)
		return 0;
	struct files_struct *files = bpf_get_current_task_btf()->files;
	if (!files)
		return 0;
	struct fdtable *fdt = files->fdt;
	if (!fdt || (unsigned long)fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return 0;
	return f;
}

#endif /* TELEGEN_TASK_H */
