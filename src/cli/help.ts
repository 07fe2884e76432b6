// The top-level help; each command prints its own from its option table.
export const MAIN_HELP = `Usage: vmstep COMMAND [OPTIONS]

Run an OCI image's command in a KVM microVM, with docker run's semantics.

Commands:
  run      Run a command in a new microVM from an image
  bench    Run it many times and compare against a baseline (statistics, verdict)
  report   The trend of a bench history file, as markdown or a static page
  pull     Download an image and build its root filesystem into the cache
  cache    List (ls) or shrink (prune) the image and root filesystem cache
  doctor   Check this host: KVM, tools, CPUs, cgroups, benchmark noise
  start    Boot a microVM in the background and print its ID
  exec     Run a command in a running VM
  cp       Copy files and directories into or out of a running VM
  ps       List your VMs
  logs     Print a VM's main process output (or its console)
  stop     Stop VMs and remove them
  port     List a VM's published ports and links

Options:
  -h, --help      Show this help (or "vmstep COMMAND --help" for a command)
  -v, --version   Print the version

Exit status of "vmstep run": the command's own; 124 when --timeout ended it;
125 when vmstep itself failed (with one line saying why and how to fix it).

Environment:
  VMSTEP_CACHE                cache directory (default ~/.cache/vmstep)
  VMSTEP_REGISTRY_USERNAME    registry user name (else: docker login's credentials)
  VMSTEP_REGISTRY_PASSWORD    registry password or token
  VMSTEP_KERNEL, VMSTEP_INIT  guest kernel and guest init to use instead of the bundled ones
  VMSTEP_STATE_DIR            where long-lived VMs are recorded (default $XDG_RUNTIME_DIR/vmstep, else /tmp/vmstep-UID)
`;
