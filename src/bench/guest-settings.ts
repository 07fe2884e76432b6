// Guest kernel arguments that benchmark mode adds to the base command line
// (the base lives with the VM launcher; these are only for `bench`). They
// remove sources of run-to-run variance that have nothing to do with the
// code under test, as Bencher recommends for its bare-metal runners:
//   nokaslr                      the kernel lands at the same address every boot,
//                                so its cache and TLB footprint repeats;
//   norandmaps                   no address-space randomisation for the workload
//                                (same as randomize_va_space=0);
//   transparent_hugepage=never   no khugepaged work, no huge-page luck.
export const BENCH_KERNEL_ARGS: readonly string[] = Object.freeze(['nokaslr', 'norandmaps', 'transparent_hugepage=never']);
