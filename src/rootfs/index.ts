// Root filesystems: image -> cached ext4 -> per-run writable copy.
export { RootfsCache, copyImage, type PrepareOptions, type PreparedRootfs, type CacheEntry } from './cache.js';
export { buildRootfsImage, BuildCancelledError, BUILDER_VERSION, GUEST_INIT_PATH, type BuildOptions } from './build.js';
export type { Ext4Result, LayoutOptions } from './ext4-writer.js';
export { RootfsError } from './tree.js';
export { buildVolumeDisk, type VolumeDiskOptions, type VolumeDiskResult, type VolumeSource } from './volume-disk.js';
