#pragma once
#include "lib.h"
void test_blk(void);
void test_blkcow(void);
void test_irq(void);
void test_smp(void);
void test_vsock(void);
void test_vsockflood(void);
/* CPUs listed in the MP table; their APIC ids into ids[] (up to max). */
int mptable_cpus(u8 *ids, int max);
