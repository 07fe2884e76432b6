/* The guest boot clock, which every timing in the protocol uses. */
#ifndef VMSTEP_CLOCK_H
#define VMSTEP_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t boottime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
