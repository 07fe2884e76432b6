// vmstep-vmm: runs one guest in its own process, so that the guest never
// shares an address space with Node. Set-up opens everything, then the
// process drops its privileges and enters a seccomp jail before the first
// guest instruction. Status goes to --status-fd as JSON lines (status.h);
// `vmstep-vmm --probe` prints the KVM probe as JSON.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "kvm/probe.h"
#include "util/error.h"
#include "vmm/config.h"
#include "vmm/jail.h"
#include "vmm/status.h"
#include "vmm/vm.h"

using namespace vmstep;

namespace {

int Probe() {
  KvmProbe p = ProbeKvm();
  WriteStatusLine(STDOUT_FILENO, ProbeJson(p.available, p.can_run_linux, p.reason, p.module));
  return p.available ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  timespec started{};
  clock_gettime(CLOCK_MONOTONIC, &started);
  if (argc == 2 && std::string(argv[1]) == "--probe") return Probe();
  VmConfig config;
  try {
    config = ParseArgs(argc, argv);
  } catch (const VmmError& e) {
    fprintf(stderr, "vmstep-vmm: %s\n", e.what());
    return 2;
  }
  // A host socket closing under us must be an error code, not a signal.
  signal(SIGPIPE, SIG_IGN);
  // If whoever started us dies (a cancelled job, a crashed runner), the VM
  // must not outlive it.
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  try {
    Vm vm(config);
    if (config.jail) DropPrivileges();
    VmExit exit = vm.Run([&] {
      if (config.jail) InstallSeccompFilter();
      // How long set-up took, from main() to the first guest instruction.
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      ReadyStatus ready;
      ready.setup_micros = (now.tv_sec - started.tv_sec) * 1000000LL + (now.tv_nsec - started.tv_nsec) / 1000;
      ready.cmdline = vm.cmdline();
      vm.ReportPinning(&ready);
      WriteStatusLine(config.status_fd, ReadyJson(ready));
    });
    WriteStatusLine(config.status_fd, ExitJson(ExitReasonName(exit.reason), exit.detail, exit.console_tail));
    if (config.status_fd < 0) fprintf(stderr, "vmstep-vmm: %s: %s\n", ExitReasonName(exit.reason), exit.detail.c_str());
    return 0;
  } catch (const VmmError& e) {
    WriteStatusLine(config.status_fd, ExitJson("error", e.what(), ""));
    fprintf(stderr, "vmstep-vmm: %s\n", e.what());
    return 1;
  }
}
