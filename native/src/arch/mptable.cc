#include "arch/mptable.h"

#include <cstring>
#include <vector>

#include "arch/layout.h"
#include "vmm/limits.h"
#include "util/error.h"

namespace vmstep {

namespace {

// Entry layouts from the MP specification, chapter 4 (also Linux's
// arch/x86/include/asm/mpspec_def.h).
#pragma pack(push, 1)
struct MpFloatingPointer {
  char signature[4];  // "_MP_"
  uint32_t config_table;
  uint8_t length;  // in 16-byte units
  uint8_t spec_rev;
  uint8_t checksum;
  uint8_t feature[5];
};
struct MpConfigHeader {
  char signature[4];  // "PCMP"
  uint16_t length;
  uint8_t spec_rev;
  uint8_t checksum;
  char oem[8];
  char product[12];
  uint32_t oem_table;
  uint16_t oem_table_size;
  uint16_t entry_count;
  uint32_t lapic_addr;
  uint16_t ext_length;
  uint8_t ext_checksum;
  uint8_t reserved;
};
struct MpProcessor {
  uint8_t type;  // 0
  uint8_t apic_id;
  uint8_t apic_version;
  uint8_t flags;  // bit 0 enabled, bit 1 bootstrap processor
  uint32_t signature;
  uint32_t features;
  uint32_t reserved[2];
};
struct MpBus {
  uint8_t type;  // 1
  uint8_t bus_id;
  char bus_type[6];
};
struct MpIoapic {
  uint8_t type;  // 2
  uint8_t apic_id;
  uint8_t apic_version;
  uint8_t flags;
  uint32_t addr;
};
struct MpInterrupt {
  uint8_t type;  // 3: I/O interrupt assignment, 4: local interrupt assignment
  uint8_t irq_type;
  uint16_t irq_flags;
  uint8_t source_bus;
  uint8_t source_irq;
  uint8_t dest_apic;
  uint8_t dest_pin;
};
#pragma pack(pop)
static_assert(sizeof(MpFloatingPointer) == 16 && sizeof(MpConfigHeader) == 44 && sizeof(MpProcessor) == 20 &&
              sizeof(MpBus) == 8 && sizeof(MpIoapic) == 8 && sizeof(MpInterrupt) == 8);

constexpr uint8_t kEntryProcessor = 0, kEntryBus = 1, kEntryIoapic = 2, kEntryIoInterrupt = 3, kEntryLocalInterrupt = 4;
constexpr uint8_t kIrqTypeInt = 0, kIrqTypeNmi = 1, kIrqTypeExtInt = 3;
constexpr uint8_t kCpuEnabled = 1, kCpuBootstrap = 2;
constexpr uint8_t kApicVersion = 0x14, kIoapicVersion = 0x11;
constexpr uint8_t kSpecRev = 4;  // MP spec 1.4
constexpr uint8_t kIsaBus = 0;

uint8_t Checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; i++) sum = static_cast<uint8_t>(sum + p[i]);
  return static_cast<uint8_t>(-sum);
}

template <typename T>
void Append(std::vector<uint8_t>& out, const T& entry) {
  const auto* p = reinterpret_cast<const uint8_t*>(&entry);
  out.insert(out.end(), p, p + sizeof entry);
}

}  // namespace

void WriteMptable(const GuestMemory& mem, unsigned vcpu_count) {
  if (vcpu_count < 1 || vcpu_count > limits::kMaxVcpus) {
    throw VmmError("vCPU count must be between 1 and " + std::to_string(limits::kMaxVcpus));
  }
  const uint8_t ioapic_id = static_cast<uint8_t>(vcpu_count);
  std::vector<uint8_t> body;
  uint16_t entries = 0;
  for (unsigned i = 0; i < vcpu_count; i++) {
    MpProcessor cpu{};
    cpu.type = kEntryProcessor;
    cpu.apic_id = static_cast<uint8_t>(i);
    cpu.apic_version = kApicVersion;
    cpu.flags = kCpuEnabled | (i == 0 ? kCpuBootstrap : 0);
    cpu.signature = 0x600;  // family 6: any modern x86
    cpu.features = 0x201;   // FPU and APIC present
    Append(body, cpu);
    entries++;
  }
  MpBus bus{};
  bus.type = kEntryBus;
  bus.bus_id = kIsaBus;
  std::memcpy(bus.bus_type, "ISA   ", 6);
  Append(body, bus);
  entries++;
  MpIoapic ioapic{};
  ioapic.type = kEntryIoapic;
  ioapic.apic_id = ioapic_id;
  ioapic.apic_version = kIoapicVersion;
  ioapic.flags = 1;
  ioapic.addr = static_cast<uint32_t>(layout::kIoapicStart);
  Append(body, ioapic);
  entries++;
  // Each ISA line straight to the same I/O APIC pin, edge-triggered and
  // active high ("conforming" on ISA): that is what the in-kernel irqchip's
  // default routing does, and what our edge-style irqfd devices need.
  for (unsigned pin = 0; pin < layout::kIoapicPins; pin++) {
    MpInterrupt irq{};
    irq.type = kEntryIoInterrupt;
    irq.irq_type = kIrqTypeInt;
    irq.source_bus = kIsaBus;
    irq.source_irq = static_cast<uint8_t>(pin);
    irq.dest_apic = ioapic_id;
    irq.dest_pin = static_cast<uint8_t>(pin);
    Append(body, irq);
    entries++;
  }
  MpInterrupt lint0{kEntryLocalInterrupt, kIrqTypeExtInt, 0, kIsaBus, 0, 0xff, 0};
  MpInterrupt lint1{kEntryLocalInterrupt, kIrqTypeNmi, 0, kIsaBus, 0, 0xff, 1};
  Append(body, lint0);
  Append(body, lint1);
  entries += 2;

  const uint64_t table_addr = layout::kMptableStart + sizeof(MpFloatingPointer);
  MpConfigHeader header{};
  std::memcpy(header.signature, "PCMP", 4);
  header.length = static_cast<uint16_t>(sizeof header + body.size());
  header.spec_rev = kSpecRev;
  std::memcpy(header.oem, "VMSTEP  ", 8);
  std::memcpy(header.product, "MICROVM     ", 12);
  header.entry_count = entries;
  header.lapic_addr = static_cast<uint32_t>(layout::kLapicStart);
  std::vector<uint8_t> table;
  Append(table, header);
  table.insert(table.end(), body.begin(), body.end());
  table[offsetof(MpConfigHeader, checksum)] = Checksum(table.data(), table.size());

  MpFloatingPointer fp{};
  std::memcpy(fp.signature, "_MP_", 4);
  fp.config_table = static_cast<uint32_t>(table_addr);
  fp.length = 1;
  fp.spec_rev = kSpecRev;
  fp.checksum = Checksum(reinterpret_cast<const uint8_t*>(&fp), sizeof fp);

  if (table_addr + table.size() > layout::kEbdaEnd || !mem.Write(layout::kMptableStart, &fp, sizeof fp) ||
      !mem.Write(table_addr, table.data(), table.size())) {
    throw VmmError("the MP table does not fit below 1 MiB");
  }
}

}  // namespace vmstep
