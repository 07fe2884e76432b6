// The VMM's jail, entered after set-up and before the first guest
// instruction. The guest is untrusted; if it ever took over the VMM, it
// would find: no capabilities, no_new_privs, and a seccomp filter that kills
// the process on any system call outside the short list below. It cannot
// open files (everything is open already), exec, or create sockets other
// than Unix ones (to reach "<uds>_<port>" for vsock).
#pragma once

namespace vmstep {

// Sets no_new_privs and drops every capability (effective, permitted,
// inheritable, ambient, bounding where allowed). Per thread: call it before
// the vCPU threads exist so that they inherit it.
void DropPrivileges();

// Installs the seccomp filter on every thread of the process (TSYNC).
void InstallSeccompFilter();

}  // namespace vmstep
