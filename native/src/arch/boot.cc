#include "arch/boot.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "arch/layout.h"
#include "util/error.h"

namespace vmstep {

namespace {

constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

void ReadExactly(int fd, void* buf, uint64_t len, uint64_t offset, const char* what) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = pread(fd, p, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(std::string("reading the kernel's ") + what);
    if (n == 0) throw VmmError(std::string("the kernel file is truncated (in its ") + what + ")");
    p += n;
    len -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

template <typename T>
void Put(const GuestMemory& mem, uint64_t gpa, T value) {
  if (!mem.Write(gpa, &value, sizeof value)) throw VmmError("guest memory too small for boot_params");
}

}  // namespace

LoadedKernel LoadElfKernel(int fd, const GuestMemory& mem) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw SystemError("stat of the kernel");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  Elf64_Ehdr eh{};
  if (file_size < sizeof eh) throw VmmError("the kernel is not an ELF file (too short); pass an uncompressed vmlinux");
  ReadExactly(fd, &eh, sizeof eh, 0, "ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    throw VmmError("the kernel is not an ELF file; pass an uncompressed vmlinux (not a bzImage or a gzip'd file)");
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64) {
    throw VmmError("the kernel is not a 64-bit x86 ELF");
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64) {
    throw VmmError("the kernel's ELF program headers are malformed");
  }
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  ReadExactly(fd, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr), eh.e_phoff, "program headers");
  LoadedKernel k{eh.e_entry, 0};
  bool loaded = false;
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz || ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset) {
      throw VmmError("the kernel's ELF segment sizes are inconsistent with the file");
    }
    // Below 1 MiB live the boot structures: a segment there would clobber them.
    uint8_t* dst = mem.Slice(ph.p_paddr, ph.p_memsz);
    if (ph.p_paddr < layout::kHighMemoryStart || dst == nullptr) {
      throw VmmError("the kernel wants to load at guest address 0x" + [&] {
        char b[32];
        snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(ph.p_paddr));
        return std::string(b);
      }() + ", outside guest RAM above 1 MiB: give the VM more memory or check the kernel");
    }
    ReadExactly(fd, dst, ph.p_filesz, ph.p_offset, "segments");
    std::memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
    if (ph.p_paddr + ph.p_memsz > k.end) k.end = ph.p_paddr + ph.p_memsz;
    loaded = true;
  }
  if (!loaded) throw VmmError("the kernel ELF has no loadable segments");
  if (mem.Slice(k.entry, 1) == nullptr) throw VmmError("the kernel's entry point is outside guest RAM");
  return k;
}

void WriteBootParams(const GuestMemory& mem, const std::string& cmdline) {
  if (cmdline.size() + 1 > layout::kCmdlineMaxBytes) throw VmmError("the kernel command line is too long");
  if (!mem.Write(layout::kCmdlineStart, cmdline.c_str(), cmdline.size() + 1)) throw VmmError("no room for the command line");

  uint8_t* zp = mem.Slice(layout::kZeroPageStart, 4096);
  if (!zp) throw VmmError("no room for boot_params");
  std::memset(zp, 0, 4096);
  using namespace zero_page;
  const uint64_t base = layout::kZeroPageStart;
  Put<uint16_t>(mem, base + kBootFlag, 0xaa55);
  Put<uint32_t>(mem, base + kHeader, 0x53726448);  // "HdrS"
  Put<uint16_t>(mem, base + kVersion, 0x020f);
  Put<uint8_t>(mem, base + kTypeOfLoader, 0xff);    // "undefined" boot loader
  Put<uint8_t>(mem, base + kLoadFlags, 0x01);       // LOADED_HIGH: kernel above 1 MiB
  Put<uint32_t>(mem, base + kCmdLinePtr, static_cast<uint32_t>(layout::kCmdlineStart));
  Put<uint32_t>(mem, base + kCmdlineSize, static_cast<uint32_t>(cmdline.size()));
  Put<uint32_t>(mem, base + kKernelAlignment, 0x01000000);

  struct E820 {
    uint64_t addr, size;
    uint32_t type;
  };
  std::vector<E820> map = {
      {0, layout::kMptableStart, kE820Ram},
      {layout::kMptableStart, layout::kEbdaEnd - layout::kMptableStart, kE820Reserved},
  };
  if (mem.below4g() > layout::kHighMemoryStart) map.push_back({layout::kHighMemoryStart, mem.below4g() - layout::kHighMemoryStart, kE820Ram});
  if (mem.above4g() > 0) map.push_back({layout::kRamAbove4GStart, mem.above4g(), kE820Ram});
  Put<uint8_t>(mem, base + kE820Entries, static_cast<uint8_t>(map.size()));
  for (size_t i = 0; i < map.size(); i++) {
    uint64_t at = base + kE820Table + i * 20;  // struct boot_e820_entry is packed: 8 + 8 + 4
    Put<uint64_t>(mem, at, map[i].addr);
    Put<uint64_t>(mem, at + 8, map[i].size);
    Put<uint32_t>(mem, at + 16, map[i].type);
  }
}

}  // namespace vmstep
