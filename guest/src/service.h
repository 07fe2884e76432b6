/*
 * Service mode (docs/protocol.md, "Service mode"): guest init stays PID 1
 * of a long-lived VM. It mounts the volumes, listens for session
 * connections and forks one child per connection (RUN, PUT, GET or LIST),
 * runs the optional main process with its output on the boot connection,
 * reaps every process, and powers off on POWEROFF, when the main process
 * exits, or when the boot connection closes.
 */
#ifndef VMSTEP_SERVICE_H
#define VMSTEP_SERVICE_H

#include <stdbool.h>

#include "spec.h"

/* After SERVE on the boot connection (and system_late in the VM); never returns. */
_Noreturn void service_main(int boot, struct run_spec *serve, bool vm_mode);

#endif
