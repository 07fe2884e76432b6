#include "devices/serial.h"

namespace vmstep {

namespace {

// Register numbers and bits (Linux include/uapi/linux/serial_reg.h).
constexpr unsigned kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;
constexpr uint8_t kIerThri = 0x02;
constexpr uint8_t kIirNoInt = 0x01, kIirThri = 0x02, kIirFifoEnabled = 0xc0;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

}  // namespace

void Serial::Read(uint64_t offset, uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  if (len == 0) return;
  data[0] = ReadRegister(static_cast<unsigned>(offset));
  for (size_t i = 1; i < len; i++) data[i] = 0;
}

void Serial::Write(uint64_t offset, const uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  if (len == 0) return;
  WriteRegister(static_cast<unsigned>(offset), data[0]);
}

uint8_t Serial::ReadRegister(unsigned reg) {
  switch (reg) {
    case kRbrThr:
      return (lcr_ & kLcrDlab) ? dll_ : 0;  // no received data, ever
    case kIer:
      return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case kIirFcr:
      if (thr_empty_pending_) {
        thr_empty_pending_ = false;  // reading IIR acknowledges THR empty
        return kIirFifoEnabled | kIirThri;
      }
      return kIirFifoEnabled | kIirNoInt;
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      return kLsrThre | kLsrTemt;  // transmitting is instantaneous
    case kMsr:
      if (mcr_ & kMcrLoop) {
        // Loopback: the modem outputs (DTR, RTS, OUT1, OUT2) read back as
        // inputs (DSR, CTS, RI, DCD); Linux's probe checks exactly this.
        return static_cast<uint8_t>(((mcr_ & 0x01) ? kMsrDsr : 0) | ((mcr_ & 0x02) ? kMsrCts : 0) |
                                    ((mcr_ & 0x04) ? kMsrRi : 0) | ((mcr_ & 0x08) ? kMsrDcd : 0));
      }
      return kMsrDcd | kMsrDsr | kMsrCts;
    case kScr:
      return scr_;
    default:
      return 0;
  }
}

void Serial::WriteRegister(unsigned reg, uint8_t value) {
  switch (reg) {
    case kRbrThr:
      if (lcr_ & kLcrDlab) {
        dll_ = value;
      } else {
        if (!(mcr_ & kMcrLoop)) sink_->Put(static_cast<char>(value));
        UpdateInterrupt();
      }
      break;
    case kIer:
      if (lcr_ & kLcrDlab) {
        dlm_ = value;
      } else {
        ier_ = value & 0x0f;
        UpdateInterrupt();
      }
      break;
    case kIirFcr:
      break;  // FIFO control: the FIFO is always empty
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      mcr_ = value & 0x1f;
      break;
    case kScr:
      scr_ = value;
      break;
    default:
      break;
  }
}

void Serial::UpdateInterrupt() {
  // The transmitter is empty again at once; tell the driver when it asked.
  if (ier_ & kIerThri) {
    thr_empty_pending_ = true;
    if (irq_) irq_->Trigger();
  } else {
    thr_empty_pending_ = false;
  }
}

}  // namespace vmstep
