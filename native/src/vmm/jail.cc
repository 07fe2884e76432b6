#include "vmm/jail.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "util/error.h"

namespace vmstep {

namespace {

// Every system call the VMM makes once the guest runs, and why.
constexpr int kAllowed[] = {
    SYS_read, SYS_write, SYS_readv, SYS_writev,              // devices, sockets, status fd
    SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,      // virtio-blk
    SYS_fdatasync, SYS_fsync,                                // virtio-blk flush
    SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,      // vsock host sockets
    SYS_accept4, SYS_connect, SYS_shutdown,                  // vsock host connections
    SYS_close,
    SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_ctl,          // the event loop
    SYS_futex, SYS_sched_yield, SYS_nanosleep, SYS_clock_nanosleep, SYS_clock_gettime, SYS_gettimeofday,
    SYS_munmap, SYS_mremap, SYS_brk, SYS_madvise,            // malloc
    SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_tgkill,        // kicking vCPU threads
    SYS_getpid, SYS_gettid, SYS_restart_syscall,
    SYS_exit, SYS_exit_group,
};
// ioctls on KVM fds: running vCPUs, the KVM_IRQ_LINE fallback for irqfd,
// and reading registers for an error report.
constexpr unsigned long kAllowedIoctls[] = {KVM_RUN, KVM_IRQ_LINE, KVM_GET_REGS};

constexpr uint32_t kArchNr = offsetof(seccomp_data, nr);
constexpr uint32_t kArchArch = offsetof(seccomp_data, arch);
constexpr uint32_t ArgLow(int i) { return offsetof(seccomp_data, args) + 8 * i; }

class FilterBuilder {
 public:
  FilterBuilder() {
    // Wrong architecture, or the x32 ABI's syscall numbers: kill.
    Stmt(BPF_LD | BPF_W | BPF_ABS, kArchArch);
    Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    Stmt(BPF_LD | BPF_W | BPF_ABS, kArchNr);
    Jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  }
  void Allow(int nr) { Block(nr, {Insn(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)}); }
  // Allowed when argument `arg` (low 32 bits) is one of `values`.
  void AllowIfArgIn(int nr, int arg, const std::vector<uint32_t>& values) {
    std::vector<sock_filter> body{Insn(BPF_LD | BPF_W | BPF_ABS, ArgLow(arg))};
    const auto n = static_cast<uint8_t>(values.size());
    for (uint8_t k = 0; k < n; k++) body.push_back(JumpInsn(BPF_JMP | BPF_JEQ | BPF_K, values[k], static_cast<uint8_t>(n - k), 0));
    body.push_back(Insn(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    body.push_back(Insn(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    Block(nr, body);
  }
  // Allowed when none of `mask`'s bits are set in argument `arg`.
  void AllowIfArgLacks(int nr, int arg, uint32_t mask) {
    Block(nr, {Insn(BPF_LD | BPF_W | BPF_ABS, ArgLow(arg)), JumpInsn(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1),
               Insn(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), Insn(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)});
  }
  std::vector<sock_filter> Finish() {
    Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    return prog_;
  }

 private:
  static sock_filter Insn(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
  static sock_filter JumpInsn(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return BPF_JUMP(code, k, jt, jf); }
  void Stmt(uint16_t code, uint32_t k) { prog_.push_back(Insn(code, k)); }
  void Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { prog_.push_back(JumpInsn(code, k, jt, jf)); }
  // "if nr matches, run body (which always returns), else skip it".
  void Block(int nr, const std::vector<sock_filter>& body) {
    Stmt(BPF_LD | BPF_W | BPF_ABS, kArchNr);
    Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, static_cast<uint8_t>(body.size()));
    prog_.insert(prog_.end(), body.begin(), body.end());
  }
  std::vector<sock_filter> prog_;
};

}  // namespace

void DropPrivileges() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw SystemError("prctl(PR_SET_NO_NEW_PRIVS)");
  // The bounding set can only shrink with CAP_SETPCAP; without it there is
  // nothing in it we could use anyway (no exec is allowed).
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL) break;
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0) throw SystemError("capset (dropping capabilities)");
}

void InstallSeccompFilter() {
  FilterBuilder b;
  for (int nr : kAllowed) b.Allow(nr);
  std::vector<uint32_t> ioctls;
  for (unsigned long cmd : kAllowedIoctls) ioctls.push_back(static_cast<uint32_t>(cmd));
  b.AllowIfArgIn(SYS_ioctl, 1, ioctls);
  b.AllowIfArgIn(SYS_socket, 0, {AF_UNIX});
  // Memory for malloc, never executable.
  b.AllowIfArgLacks(SYS_mmap, 2, PROT_EXEC);
  b.AllowIfArgLacks(SYS_mprotect, 2, PROT_EXEC);
  // glibc's fstat(fd) is newfstatat(fd, "", ..., AT_EMPTY_PATH): no path lookups.
  b.AllowIfArgIn(SYS_newfstatat, 3, {AT_EMPTY_PATH});
  std::vector<sock_filter> filter = b.Finish();
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
    throw SystemError("installing the seccomp filter");
  }
}

}  // namespace vmstep
