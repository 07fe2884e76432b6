// The guest kernel command line, in one place. The base is Firecracker's
// (fast boot, reboot through the i8042 so that a guest's reboot() ends the
// VM, no PCI probing), plus our root disk and guest init. The VMM appends
// the virtio_mmio.device= entries for the devices it creates.
//
// The serial console: with `debug` the kernel logs everything to it (every
// byte is a VM exit, so this costs boot time); otherwise it stays, but
// prints only emergencies (loglevel=1), so that a panic still reaches the
// VMM's console ring buffer and the caller gets its last lines.
/** Where guest init lives in every root filesystem (src/rootfs/build.ts puts it there). */
export const GUEST_INIT_PATH = '/.vmstep/init';

export const BASE_CMDLINE = [
  'reboot=k',
  'panic=1',
  'nomodule',
  'i8042.noaux',
  'i8042.nomux',
  'i8042.dumbkbd',
  'swiotlb=noforce',
  'pci=off',
  'root=/dev/vda',
  'rw',
  `init=${GUEST_INIT_PATH}`,
] as const;

const CONSOLE_DEBUG = ['8250.nr_uarts=1', 'console=ttyS0'];
const CONSOLE_QUIET = ['8250.nr_uarts=1', 'console=ttyS0', 'quiet', 'loglevel=1'];

/** The full command line: base, console settings, then the caller's extra arguments. */
export function kernelCmdline(options: { debug: boolean; extra?: string }): string {
  const parts: string[] = [...BASE_CMDLINE, ...(options.debug ? CONSOLE_DEBUG : CONSOLE_QUIET)];
  const extra = options.extra?.trim();
  if (extra) parts.push(extra);
  return parts.join(' ');
}
