/*
 * A real KVM guest, run through the KVM API, whose TSC readings become a
 * guest trace (JSON lines, guest.tsc domain) that clocksource merges with the
 * host's trace of the same run.
 *
 * Each vCPU runs a few bytes of real-mode code in a loop:
 *     rdtsc; store          ("before_cpuid")
 *     cpuid                 (handled in the host kernel: kvm:kvm_cpuid)
 *     rdtsc; store          ("after_cpuid", also the value before the port write)
 *     out 0x10, al          (an exit to user space: kvm:kvm_pio, kvm:kvm_userspace_exit)
 *     rdtsc; store          ("after_out", after the host re-entered the guest)
 * At each port exit the host side prints what the guest stored since the
 * previous exit, so every loop gives three guest timestamps with its vCPU and
 * sequence number.
 *
 * Usage: kvm-guest-harness [--loops N] [--vcpus V] [--settle-ms MS]
 *                          [--linger-ms MS] [--set-tsc-at LOOP] [--hold]
 * stdout: JSON lines, one per guest timestamp.
 * stderr: "ready pid=P vm_fd=F vcpus=V" once the VM exists, "set-tsc ..." lines
 *         for the TSC write experiment, "done" when the guest stopped, and one
 *         line per error.
 * --hold: after "ready", wait for a line on stdin before running the guest, and
 *         after "done", wait for end of stdin before closing the VM (so a
 *         watcher can see the VM before and after the run, as long as it needs).
 * Exit: 0 done; 3 KVM unusable here (no /dev/kvm, no permission, an ioctl the
 * KVM refuses before the guest runs, a guest that stops before its first
 * loop); 1 anything else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE 0x10000
#define PORT 0x10
#define MSR_IA32_TSC 0x10
#define MAX_VCPUS 4

static int kvm_fd = -1, vm_fd = -1;
static uint8_t *mem;
static long loops = 2000;
static int nvcpus = 1;
static long set_tsc_at = -1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void die_unusable(const char *what) {
	fprintf(stderr, "kvm unusable: %s: %s\n", what, strerror(errno));
	exit(3);
}

static void die(const char *what) {
	fprintf(stderr, "error: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads stdin until a newline or end of file. */
static void wait_stdin(int until_eof) {
	char c;
	for (;;) {
		ssize_t n = read(0, &c, 1);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return;
		if (!until_eof && c == '\n') return;
	}
}

static void sleep_ms(long ms) {
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Code of vCPU v at 0x1000 + 0x2000*v, its data at 0x2000 + 0x2000*v (real mode, DS = 0). */
static uint16_t code_at(int v) { return (uint16_t)(0x1000 + 0x2000 * v); }
static uint16_t data_at(int v) { return (uint16_t)(0x2000 + 0x2000 * v); }

static size_t emit_store(uint8_t *p, uint16_t addr) {
	size_t n = 0;
	/* mov [addr], eax  (66 A3 addr16) */
	p[n++] = 0x66; p[n++] = 0xA3; p[n++] = addr & 0xff; p[n++] = addr >> 8;
	/* mov [addr+4], edx  (66 89 16 addr16) */
	p[n++] = 0x66; p[n++] = 0x89; p[n++] = 0x16; p[n++] = (addr + 4) & 0xff; p[n++] = (addr + 4) >> 8;
	return n;
}

static void write_guest_code(int v) {
	uint8_t *p = mem + code_at(v);
	uint16_t d = data_at(v);
	size_t n = 0;
	size_t top = n;
	p[n++] = 0x0F; p[n++] = 0x31;                 /* rdtsc */
	n += emit_store(p + n, d + 0x00);             /* before_cpuid */
	p[n++] = 0x66; p[n++] = 0x31; p[n++] = 0xC0;  /* xor eax, eax */
	p[n++] = 0x66; p[n++] = 0x31; p[n++] = 0xC9;  /* xor ecx, ecx */
	p[n++] = 0x0F; p[n++] = 0xA2;                 /* cpuid */
	p[n++] = 0x0F; p[n++] = 0x31;                 /* rdtsc */
	n += emit_store(p + n, d + 0x08);             /* after_cpuid */
	p[n++] = 0xE6; p[n++] = PORT;                 /* out PORT, al */
	p[n++] = 0x0F; p[n++] = 0x31;                 /* rdtsc */
	n += emit_store(p + n, d + 0x10);             /* after_out */
	/* jmp top (EB rel8) */
	int rel = (int)top - (int)(n + 2);
	p[n++] = 0xEB; p[n++] = (uint8_t)(int8_t)rel;
}

static uint64_t stored(int v, int slot) {
	uint64_t x;
	memcpy(&x, mem + data_at(v) + slot, 8);
	return x;
}

static void emit(int v, long seq, const char *point, uint64_t ts) {
	pthread_mutex_lock(&out_lock);
	printf("{\"ts\":\"%llu\",\"cpu\":%d,\"pid\":%d,\"tid\":%d,\"comm\":\"guest-vcpu%d\",\"event\":\"guest:tsc_%s\",\"fields\":{\"seq\":%ld},\"clock\":\"x86-tsc\"}\n",
	       (unsigned long long)ts, v, 1, 1, v, point, seq);
	pthread_mutex_unlock(&out_lock);
}

struct vcpu {
	int index;
	int fd;
	struct kvm_run *run;
	pid_t tid;
};

static int set_guest_tsc(struct vcpu *c, uint64_t value) {
	struct { struct kvm_msrs hdr; struct kvm_msr_entry e; } m;
	memset(&m, 0, sizeof m);
	m.hdr.nmsrs = 1;
	m.e.index = MSR_IA32_TSC;
	m.e.data = value;
	return ioctl(c->fd, KVM_SET_MSRS, &m);
}

static void *run_vcpu(void *arg) {
	struct vcpu *c = arg;
	c->tid = (pid_t)syscall(SYS_gettid);
	long exits = 0;
	for (;;) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR) continue;
			/* Before the guest's first port write, KVM refusing to run it is a limit of this host. */
			if (exits == 0) die_unusable("KVM_RUN of the real-mode guest");
			die("KVM_RUN");
		}
		if (c->run->exit_reason == KVM_EXIT_IO && c->run->io.port == PORT && c->run->io.direction == KVM_EXIT_IO_OUT) {
			/* Memory now holds after_out of loop exits-1 and before/after_cpuid of loop exits. */
			if (exits > 0) emit(c->index, exits - 1, "after_out", stored(c->index, 0x10));
			emit(c->index, exits, "before_cpuid", stored(c->index, 0x00));
			emit(c->index, exits, "after_cpuid", stored(c->index, 0x08));
			if (exits == set_tsc_at) {
				uint64_t before = stored(c->index, 0x08);
				uint64_t target = before + 1000000000ULL;
				int rc = set_guest_tsc(c, target);
				pthread_mutex_lock(&out_lock);
				fprintf(stderr, "set-tsc vcpu=%d loop=%ld rc=%d errno=%d guest_before=%llu asked=%llu\n", c->index, exits, rc, rc < 0 ? errno : 0,
				        (unsigned long long)before, (unsigned long long)target);
				pthread_mutex_unlock(&out_lock);
			}
			exits++;
			if (exits > loops) break;
			continue;
		}
		if (c->run->exit_reason == KVM_EXIT_HLT) break;
		if (exits == 0) {
			/* It never reached its first port write: this KVM cannot run the guest (e.g. no real mode). */
			fprintf(stderr, "kvm unusable: vcpu %d: the real-mode guest stopped with exit reason %u before its first loop\n", c->index, c->run->exit_reason);
			exit(3);
		}
		fprintf(stderr, "error: vcpu %d: unexpected exit reason %u at loop %ld\n", c->index, c->run->exit_reason, exits);
		exit(1);
	}
	return NULL;
}

int main(int argc, char **argv) {
	long settle_ms = 0, linger_ms = 0;
	int hold = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--loops") && i + 1 < argc) loops = atol(argv[++i]);
		else if (!strcmp(argv[i], "--vcpus") && i + 1 < argc) nvcpus = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--settle-ms") && i + 1 < argc) settle_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--linger-ms") && i + 1 < argc) linger_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--set-tsc-at") && i + 1 < argc) set_tsc_at = atol(argv[++i]);
		else if (!strcmp(argv[i], "--hold")) hold = 1;
		else { fprintf(stderr, "error: unknown argument %s\n", argv[i]); return 2; }
	}
	if (loops < 1 || nvcpus < 1 || nvcpus > MAX_VCPUS) { fprintf(stderr, "error: --loops >= 1, --vcpus 1..%d\n", MAX_VCPUS); return 2; }

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) die_unusable("open /dev/kvm");
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die_unusable("KVM_GET_API_VERSION");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) die_unusable("KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) die("mmap guest memory");
	struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)mem };
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) die_unusable("KVM_SET_USER_MEMORY_REGION");
	int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) die_unusable("KVM_GET_VCPU_MMAP_SIZE");

	struct vcpu cpus[MAX_VCPUS];
	for (int v = 0; v < nvcpus; v++) {
		write_guest_code(v);
		cpus[v].index = v;
		cpus[v].fd = ioctl(vm_fd, KVM_CREATE_VCPU, v);
		if (cpus[v].fd < 0) die_unusable("KVM_CREATE_VCPU");
		cpus[v].run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpus[v].fd, 0);
		if (cpus[v].run == MAP_FAILED) die("mmap kvm_run");
		struct kvm_sregs sregs;
		if (ioctl(cpus[v].fd, KVM_GET_SREGS, &sregs) < 0) die_unusable("KVM_GET_SREGS");
		struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.ss, &sregs.fs, &sregs.gs };
		for (unsigned s = 0; s < sizeof segs / sizeof segs[0]; s++) { segs[s]->base = 0; segs[s]->selector = 0; }
		if (ioctl(cpus[v].fd, KVM_SET_SREGS, &sregs) < 0) die_unusable("KVM_SET_SREGS");
		struct kvm_regs regs;
		memset(&regs, 0, sizeof regs);
		regs.rip = code_at(v);
		regs.rflags = 0x2;
		regs.rsp = data_at(v) + 0x1000;
		if (ioctl(cpus[v].fd, KVM_SET_REGS, &regs) < 0) die_unusable("KVM_SET_REGS");
	}
	fprintf(stderr, "ready pid=%d vm_fd=%d vcpus=%d\n", (int)getpid(), vm_fd, nvcpus);
	fflush(stderr);
	if (hold) wait_stdin(0);
	if (settle_ms > 0) sleep_ms(settle_ms);

	pthread_t threads[MAX_VCPUS];
	for (int v = 0; v < nvcpus; v++)
		if (pthread_create(&threads[v], NULL, run_vcpu, &cpus[v]) != 0) die("pthread_create");
	for (int v = 0; v < nvcpus; v++) pthread_join(threads[v], NULL);
	fflush(stdout);
	pthread_mutex_lock(&out_lock);
	for (int v = 0; v < nvcpus; v++) fprintf(stderr, "vcpu %d tid=%d\n", v, (int)cpus[v].tid);
	fprintf(stderr, "done\n");
	pthread_mutex_unlock(&out_lock);
	fflush(stderr);
	if (linger_ms > 0) sleep_ms(linger_ms);
	if (hold) wait_stdin(1);
	return 0;
}
