// Constants from the virtio 1.2 specification and Linux's
// include/uapi/linux/virtio_{config,ring,mmio,blk,vsock}.h.
#pragma once
#include <cstdint>

namespace vmstep::virtio {

// Device status bits (spec 2.1).
constexpr uint32_t kStatusAcknowledge = 1;
constexpr uint32_t kStatusDriver = 2;
constexpr uint32_t kStatusDriverOk = 4;
constexpr uint32_t kStatusFeaturesOk = 8;
constexpr uint32_t kStatusNeedsReset = 64;
constexpr uint32_t kStatusFailed = 128;

// Feature bits shared by all devices.
constexpr uint64_t kFVersion1 = 1ull << 32;

// Split virtqueue descriptor flags (spec 2.7.5).
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
constexpr uint16_t kAvailNoInterrupt = 1;

// Interrupt status bits.
constexpr uint32_t kInterruptUsedBuffer = 1;
constexpr uint32_t kInterruptConfigChange = 2;

// Device ids (spec 5).
constexpr uint32_t kDeviceBlock = 2;
constexpr uint32_t kDeviceVsock = 19;

}  // namespace vmstep::virtio
