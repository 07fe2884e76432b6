// The VMM's report to its parent: one JSON object per line on the status fd
// ("ready" once the guest is about to run, "exit" with the reason last).
// JSON because the parent is Node; one line each so a reader needs no parser
// state beyond splitting on '\n'. docs/vmm-status.md specifies every line;
// each is built by one function below, and test/unit/vmm-status.test.ts
// checks those functions' fields against the specification.
#pragma once
#include <string>
#include <vector>

namespace vmstep {

// A JSON string literal for arbitrary bytes (guest console output included).
std::string JsonString(const std::string& s);
// Writes line + '\n' in one write(2), so lines never interleave.
void WriteStatusLine(int fd, const std::string& json);

struct ReadyStatus {
  long long setup_micros = 0;
  std::string cmdline;
  // With --pin-cpus: the host CPUs the vCPU threads run on, or why one could not be pinned.
  bool pin_requested = false;
  std::vector<int> pinned_cpus;
  std::string pin_error;
};

std::string ReadyJson(const ReadyStatus& s);
std::string ExitJson(const std::string& reason, const std::string& detail, const std::string& console_tail);
// `vmstep-vmm --probe` on stdout.
std::string ProbeJson(bool available, bool can_run_linux, const std::string& reason, const std::string& module);

}  // namespace vmstep
