/*
 * Reads the Arm generic timer from user space the way the native addon does
 * (isb; mrs cntvct_el0) and prints what it saw, for the arm test suite to
 * check under qemu-user emulation. Output, one `key value` per line:
 *   cntfrq <Hz>
 *   first <ticks> / last <ticks> / backwards <count>
 *   slept_ticks <ticks over a 20 ms nanosleep>
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t read_cntvct(void) {
  uint64_t v;
  __asm__ volatile("isb; mrs %0, cntvct_el0; isb" : "=r"(v) :: "memory");
  return v;
}

static inline uint64_t read_cntfrq(void) {
  uint64_t v;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
  return v;
}

int main(void) {
  uint64_t first = read_cntvct(), prev = first, backwards = 0;
  for (int i = 0; i < 100000; i++) {
    uint64_t v = read_cntvct();
    if (v < prev) backwards++;
    prev = v;
  }
  uint64_t before = read_cntvct();
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  uint64_t after = read_cntvct();
  printf("cntfrq %llu\nfirst %llu\nlast %llu\nbackwards %llu\nslept_ticks %llu\n", (unsigned long long)read_cntfrq(), (unsigned long long)first,
         (unsigned long long)prev, (unsigned long long)backwards, (unsigned long long)(after - before));
  return 0;
}
