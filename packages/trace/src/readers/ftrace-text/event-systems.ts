/**
 * ftrace text prints an event's name without its system (`sched_switch:`, not
 * `sched:sched_switch:`). The binary readers name events `system:name`; so
 * that the same event has the same name whatever it was read from, the
 * systems of well-known tracepoints are listed here. An event not listed keeps
 * its bare name (docs/traces.md says so).
 */
const BY_SYSTEM: Record<string, readonly string[]> = {
  sched: [
    "sched_switch", "sched_wakeup", "sched_wakeup_new", "sched_waking", "sched_migrate_task",
    "sched_process_fork", "sched_process_exec", "sched_process_exit", "sched_process_free",
    "sched_process_wait", "sched_process_hang", "sched_wait_task", "sched_kthread_stop",
    "sched_kthread_stop_ret", "sched_kthread_work_execute_start", "sched_kthread_work_execute_end",
    "sched_kthread_work_queue_work", "sched_stat_runtime", "sched_stat_sleep", "sched_stat_wait",
    "sched_stat_iowait", "sched_stat_blocked", "sched_pi_setprio", "sched_move_numa",
    "sched_stick_numa", "sched_swap_numa", "sched_skip_vma_numa",
  ],
  irq: ["irq_handler_entry", "irq_handler_exit", "softirq_entry", "softirq_exit", "softirq_raise", "tasklet_entry", "tasklet_exit"],
  timer: [
    "timer_init", "timer_start", "timer_expire_entry", "timer_expire_exit", "timer_cancel", "timer_base_idle",
    "hrtimer_init", "hrtimer_setup", "hrtimer_start", "hrtimer_expire_entry", "hrtimer_expire_exit", "hrtimer_cancel",
    "itimer_state", "itimer_expire", "tick_stop",
  ],
  kvm: [
    "kvm_entry", "kvm_exit", "kvm_write_tsc_offset", "kvm_update_master_clock", "kvm_track_tsc",
    "kvm_pvclock_update", "kvm_pio", "kvm_mmio", "kvm_fast_mmio", "kvm_hypercall", "kvm_hv_hypercall",
    "kvm_msr", "kvm_cpuid", "kvm_apic", "kvm_apic_ipi", "kvm_apic_accept_irq", "kvm_inj_virq",
    "kvm_inj_exception", "kvm_userspace_exit", "kvm_vcpu_wakeup", "kvm_set_irq", "kvm_ioapic_set_irq",
    "kvm_msi_set_irq", "kvm_ack_irq", "kvm_fpu", "kvm_halt_poll_ns", "kvm_page_fault", "kvm_cr",
    "kvm_nested_vmenter", "kvm_nested_vmexit", "kvm_nested_vmexit_inject", "kvm_wait_lapic_expire",
    "kvm_ple_window_update", "kvm_age_hva", "kvm_dirty_ring_push", "kvm_emulate_insn",
  ],
  power: ["cpu_idle", "cpu_frequency", "cpu_frequency_limits", "suspend_resume", "clock_enable", "clock_disable", "clock_set_rate"],
  workqueue: ["workqueue_queue_work", "workqueue_activate_work", "workqueue_execute_start", "workqueue_execute_end"],
  signal: ["signal_generate", "signal_deliver"],
  task: ["task_newtask", "task_rename"],
  raw_syscalls: ["sys_enter", "sys_exit"],
  ftrace: ["print", "function", "funcgraph_entry", "funcgraph_exit", "bprint", "bputs", "raw_data", "user_stack", "kernel_stack", "hwlat", "osnoise", "timerlat"],
  block: ["block_rq_issue", "block_rq_complete", "block_rq_insert", "block_rq_requeue", "block_bio_queue", "block_bio_complete", "block_plug", "block_unplug"],
  net: ["net_dev_xmit", "net_dev_queue", "netif_receive_skb", "netif_rx", "napi_gro_receive_entry"],
  napi: ["napi_poll"],
  skb: ["kfree_skb", "consume_skb"],
  rcu: ["rcu_utilization", "rcu_grace_period"],
  tlb: ["tlb_flush"],
  module: ["module_load", "module_free", "module_get", "module_put"],
  printk: ["console"],
  ipi: ["ipi_raise", "ipi_send_cpu", "ipi_send_cpumask", "ipi_entry", "ipi_exit"],
};

const SYSTEM_OF = new Map<string, string>();
for (const [system, names] of Object.entries(BY_SYSTEM)) for (const n of names) SYSTEM_OF.set(n, system);

const qualified = new Map<string, string>();

/** `sched_switch` → `sched:sched_switch`; `sys_enter_openat` → `syscalls:sys_enter_openat`; unknown names unchanged. */
export function qualifyEventName(name: string): string {
  const hit = qualified.get(name);
  if (hit !== undefined) return hit;
  let system = SYSTEM_OF.get(name);
  if (system === undefined && (name.startsWith("sys_enter_") || name.startsWith("sys_exit_"))) system = "syscalls";
  const q = system === undefined ? name : `${system}:${name}`;
  if (qualified.size < 4096) qualified.set(name, q);
  return q;
}
