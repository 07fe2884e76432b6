# Two targets from one VMM core: the node addon (the KVM probe, loaded by
# src/vm/) and vmstep-vmm, the executable that runs a guest in its own jailed
# process. build.sh drives node-gyp and builds the test guests.
{
  'variables': {
    'core_sources': [
      'src/arch/boot.cc',
      'src/arch/cpuid.cc',
      'src/arch/mptable.cc',
      'src/arch/regs.cc',
      'src/devices/bus.cc',
      'src/devices/console.cc',
      'src/devices/i8042.cc',
      'src/devices/irq.cc',
      'src/devices/serial.cc',
      'src/kvm/kvm.cc',
      'src/kvm/probe.cc',
      'src/memory/guest_memory.cc',
      'src/virtio/blk.cc',
      'src/virtio/disk.cc',
      'src/virtio/mmio.cc',
      'src/virtio/overlay.cc',
      'src/virtio/queue.cc',
      'src/virtio/vsock.cc',
      'src/virtio/vsock_connection.cc',
      'src/virtio/vsock_muxer.cc',
      'src/virtio/vsock_packet.cc',
      'src/vmm/config.cc',
      'src/vmm/event_loop.cc',
      'src/vmm/jail.cc',
      'src/vmm/status.cc',
      'src/vmm/vm.cc',
    ],
    'vmstep_cflags': ['-std=c++20', '-fexceptions', '-frtti', '-Wall', '-Wextra', '-Wno-missing-field-initializers', '-O2'],
  },
  'targets': [
    {
      'target_name': 'vmstep',
      'sources': ['<@(core_sources)', 'src/addon/addon.cc'],
      'include_dirs': ['src'],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      'cflags_cc!': ['-fno-rtti', '-fno-exceptions', '-std=gnu++17'],
      'cflags_cc': ['<@(vmstep_cflags)'],
      'defines': ['NAPI_VERSION=8'],
    },
    {
      'target_name': 'vmstep-vmm',
      'type': 'executable',
      'sources': ['<@(core_sources)', 'src/vmm/main.cc'],
      'include_dirs': ['src'],
      'cflags_cc!': ['-fno-rtti', '-fno-exceptions', '-std=gnu++17'],
      'cflags_cc': ['<@(vmstep_cflags)'],
      # Static: the VMM needs no shared libraries at run time, so nothing is
      # loaded (or opened) after the jail, and it runs on any x86-64 Linux.
      'ldflags!': ['-rdynamic'],
      'ldflags': ['-static', '-Wl,--gc-sections', '-s'],
    },
    {
      # The connection state machine on its own, driven over a socketpair
      # (test/kvm/vsock-connection.test.ts runs it).
      'target_name': 'vsock-connection-test',
      'type': 'executable',
      'sources': ['tests/vsock_connection_test.cc', 'src/virtio/vsock_connection.cc'],
      'include_dirs': ['src'],
      'cflags_cc!': ['-fno-rtti', '-fno-exceptions', '-std=gnu++17'],
      'cflags_cc': ['<@(vmstep_cflags)'],
    },
  ],
}
