/* The test guests' tiny runtime: port and MMIO access, serial output,
   boot_params and command-line access, the local and I/O APIC, an IDT. */
#pragma once
#include <stdint.h>
#include <stddef.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32*)addr; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32*)addr = v; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void cpuid(u32 leaf, u32 sub, u32* a, u32* b, u32* c, u32* d) {
  __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

void putc_serial(char c);
void puts(const char *s);
void put_hex(u64 v);
void put_dec(u64 v);
void print(const char *fmt, ...); /* %s %d(u64) %x(u64) %c */

void poweroff(void) __attribute__((noreturn));  /* i8042 reset: reboot=k */

/* boot_params / command line */
extern const u8 *boot_params;
const char *cmdline(void);
/* Value of "key=" in the command line, copied into buf; 0 if absent. */
int cmdline_get(const char *key, char *buf, size_t len);
/* The n-th "virtio_mmio.device=4K@0xBASE:IRQ" entry. */
int virtio_mmio_entry(int n, u64 *base, u32 *irq);
u64 parse_u64(const char *s);

/* Interrupts */
void idt_init(void);
void lapic_enable(void);
void lapic_eoi(void);
u32 lapic_id(void);
void ioapic_route(u32 pin, u8 vector, u8 dest_apic);
extern volatile u32 irq_count[256];
void lapic_send_ipi(u32 dest_apic, u32 icr_low);

/* A spinlock for output from several vCPUs. */
void lock(volatile u32 *l);
void unlock(volatile u32 *l);
