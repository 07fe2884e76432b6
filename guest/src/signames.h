/* Signal names for exit reports: "SIGKILL", "SIGRTMIN+2". */
#ifndef VMSTEP_SIGNAMES_H
#define VMSTEP_SIGNAMES_H

/* Returns a static string; the RT names share one buffer. */
const char *signal_name(int sig);

#endif
