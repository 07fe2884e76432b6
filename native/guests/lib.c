#include "lib.h"
#include <stdarg.h>

const u8 *boot_params;
volatile u32 irq_count[256];
static volatile u32 print_lock;

void *memset(void *d, int c, size_t n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, size_t n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }
int memcmp(const void *a, const void *b, size_t n) {
  const u8 *p = a, *q = b;
  for (; n; n--, p++, q++) if (*p != *q) return *p - *q;
  return 0;
}
size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

void putc_serial(char c) { outb(0x3f8, (u8)c); }
void puts(const char *s) { while (*s) putc_serial(*s++); }
void put_hex(u64 v) {
  char b[19]; int i = 18; b[i] = 0;
  do { b[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  b[--i] = 'x'; b[--i] = '0';
  puts(&b[i]);
}
void put_dec(u64 v) {
  char b[21]; int i = 20; b[i] = 0;
  do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  puts(&b[i]);
}
void print(const char *fmt, ...) {
  va_list ap; va_start(ap, fmt);
  lock(&print_lock);
  for (; *fmt; fmt++) {
    if (*fmt != '%') { putc_serial(*fmt); continue; }
    switch (*++fmt) {
      case 's': puts(va_arg(ap, const char *)); break;
      case 'd': put_dec(va_arg(ap, u64)); break;
      case 'x': put_hex(va_arg(ap, u64)); break;
      case 'c': putc_serial((char)va_arg(ap, int)); break;
      default: putc_serial(*fmt); break;
    }
  }
  unlock(&print_lock);
  va_end(ap);
}

void poweroff(void) {
  outb(0x64, 0xfe);
  for (;;) __asm__ volatile("cli; hlt");
}

const char *cmdline(void) { return (const char *)(u64)*(const u32 *)(boot_params + 0x228); }

int cmdline_get(const char *key, char *buf, size_t len) {
  const char *s = cmdline();
  size_t k = strlen(key);
  while (*s) {
    while (*s == ' ') s++;
    if (memcmp(s, key, k) == 0 && s[k] == '=') {
      s += k + 1;
      size_t i = 0;
      while (*s && *s != ' ' && i + 1 < len) buf[i++] = *s++;
      buf[i] = 0;
      return 1;
    }
    while (*s && *s != ' ') s++;
  }
  return 0;
}

u64 parse_u64(const char *s) {
  u64 v = 0;
  if (s[0] == '0' && s[1] == 'x') {
    for (s += 2;; s++) {
      if (*s >= '0' && *s <= '9') v = v * 16 + (u64)(*s - '0');
      else if (*s >= 'a' && *s <= 'f') v = v * 16 + (u64)(*s - 'a' + 10);
      else return v;
    }
  }
  for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (u64)(*s - '0');
  return v;
}

int virtio_mmio_entry(int n, u64 *base, u32 *irq) {
  const char *s = cmdline();
  static const char key[] = "virtio_mmio.device=4K@";
  for (;;) {
    while (*s == ' ') s++;
    if (!*s) return 0;
    if (memcmp(s, key, sizeof key - 1) == 0 && n-- == 0) {
      s += sizeof key - 1;
      *base = parse_u64(s);
      while (*s && *s != ':') s++;
      *irq = (u32)parse_u64(s + 1);
      return 1;
    }
    while (*s && *s != ' ') s++;
  }
}

void lock(volatile u32 *l) { while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) cpu_relax(); }
void unlock(volatile u32 *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* --- interrupts --- */
#define LAPIC 0xfee00000ull
#define IOAPIC 0xfec00000ull

struct idt_entry { u16 off0, sel; u8 ist, type; u16 off1; u32 off2, zero; } __attribute__((packed));
static struct idt_entry idt[256] __attribute__((aligned(16)));

#define STUBS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(10) X(11) X(12) X(13) X(14) X(16) X(17) X(18) X(19) X(32) X(48) X(49) X(255)
#define DECL(v) extern void isr_##v(void);
STUBS(DECL)

static void set_gate(int v, void (*fn)(void)) {
  u64 a = (u64)fn;
  idt[v] = (struct idt_entry){(u16)a, 0x10, 0, 0x8e, (u16)(a >> 16), (u32)(a >> 32), 0};
}

void idt_init(void) {
#define SET(v) set_gate(v, isr_##v);
  STUBS(SET)
  struct { u16 limit; u64 base; } __attribute__((packed)) p = {sizeof idt - 1, (u64)idt};
  __asm__ volatile("lidt %0" ::"m"(p));
}

/* Exceptions end the test with their vector on the console. */
void interrupt_handler(u64 vector) {
  if (vector < 32) {
    print("EXCEPTION %d\n", vector);
    poweroff();
  }
  __atomic_fetch_add(&irq_count[vector], 1, __ATOMIC_SEQ_CST);
  if (vector != 255) lapic_eoi();
}

void lapic_enable(void) {
  /* The 8259 PIC also sees ISA lines (through LINT0 as ExtINT) and its
     vector base is still 0 after reset: mask it, as Linux does. */
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  mmio_write32(LAPIC + 0x80, 0);            /* TPR: accept everything */
  mmio_write32(LAPIC + 0xf0, 0x100 | 0xff); /* SVR: enabled, spurious vector 0xff */
}
void lapic_eoi(void) { mmio_write32(LAPIC + 0xb0, 0); }
u32 lapic_id(void) { return mmio_read32(LAPIC + 0x20) >> 24; }
void lapic_send_ipi(u32 dest, u32 low) {
  mmio_write32(LAPIC + 0x310, dest << 24);
  mmio_write32(LAPIC + 0x300, low);
  while (mmio_read32(LAPIC + 0x300) & (1u << 12)) cpu_relax(); /* delivery pending */
}

static void ioapic_write(u32 reg, u32 v) { mmio_write32(IOAPIC, reg); mmio_write32(IOAPIC + 0x10, v); }
void ioapic_route(u32 pin, u8 vector, u8 dest) {
  ioapic_write(0x11 + 2 * pin, (u32)dest << 24);
  ioapic_write(0x10 + 2 * pin, vector); /* fixed, physical, edge, active high, unmasked */
}
