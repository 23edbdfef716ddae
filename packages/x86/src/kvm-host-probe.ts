import { unknownFact, FACT, type CapabilityProbe, type Fact, type FactSet, type SystemView } from "@clocksource/core";
import { kvmHardwareTscFacts } from "./kvm-hw-tsc.js";
import { kvmVmFacts } from "./kvm-host-vms.js";
import { KVM_MODULES, kvmModuleFacts, readKvmModule, type KvmModule } from "./kvm-modules.js";
import { isX86Machine } from "./x86-facts.js";

/**
 * The x86 KVM host: which KVM (`x86.kvm_implementation`, with every KVM
 * module's parameters as `x86.kvm_module.<name>` and the time-related ones as
 * their own facts), whether hardware offsets and scales guests' TSCs
 * (`x86.kvm_tsc_offsetting`, `x86.kvm_tsc_scaling`), and, on the live host,
 * the running VMs with each vCPU's TSC offset and scaling (`x86.kvm_vm_tsc`).
 * Says nothing on a machine with no KVM module, no VMX/SVM and no `/dev/kvm`.
 * (Whether this is a KVM host at all — `/dev/kvm` — is core's `kvm-host` probe.)
 */
export class KvmHostTscProbe implements CapabilityProbe {
  readonly id = "x86-kvm-host";

  probe(view: SystemView, known: FactSet): Fact[] {
    if (!isX86Machine(known)) return [];
    const modules: KvmModule[] = [];
    const failures: { source: string; reason: string }[] = [];
    for (const name of KVM_MODULES) {
      const r = readKvmModule(view, name);
      if (r.present) modules.push(r.module);
      else if (r.failed) failures.push(r.failed);
    }
    const out = kvmModuleFacts(view, modules, failures);
    const cpuinfo = view.readText("proc/cpuinfo");
    if (cpuinfo.ok) {
      out.push(...kvmHardwareTscFacts(cpuinfo.value, cpuinfo.source, { modules, amdScalingSource: view.describe("sys/module/kvm_amd/parameters/tsc_scaling") }));
    } else if (modules.length > 0) {
      out.push(unknownFact(FACT.x86KvmTscOffsetting, cpuinfo.source, cpuinfo.reason), unknownFact(FACT.x86KvmTscScaling, cpuinfo.source, cpuinfo.reason));
    }
    out.push(...kvmVmFacts(view, { kvmModules: modules.length > 0 }));
    return out;
  }
}
