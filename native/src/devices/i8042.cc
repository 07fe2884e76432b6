#include "devices/i8042.h"

namespace vmstep {

namespace {

// Controller commands (Linux drivers/input/serio/i8042.h).
constexpr uint8_t kCmdReadCtr = 0x20, kCmdWriteCtr = 0x60;
constexpr uint8_t kCmdAuxDisable = 0xa7, kCmdAuxEnable = 0xa8, kCmdAuxTest = 0xa9;
constexpr uint8_t kCmdSelfTest = 0xaa, kCmdKbdTest = 0xab, kCmdKbdDisable = 0xad, kCmdKbdEnable = 0xae;
constexpr uint8_t kCmdReadOutputPort = 0xd0, kCmdWriteOutputPort = 0xd1;
constexpr uint8_t kCmdReset = 0xfe;
// Status register bits.
constexpr uint8_t kStatusOutputFull = 0x01, kStatusSystemFlag = 0x04, kStatusCommand = 0x08;
// Keyboard replies (Linux drivers/input/keyboard/atkbd.c).
constexpr uint8_t kKbdAck = 0xfa, kKbdSelfTestPassed = 0xaa;
constexpr uint8_t kKbdReset = 0xff, kKbdGetId = 0xf2;

}  // namespace

void I8042::Read(uint64_t offset, uint8_t* data, size_t len) {
  if (len == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (offset == 0) {
    if (output_.empty()) {
      data[0] = 0;
    } else {
      data[0] = output_.front();
      output_.pop_front();
      if (!output_.empty() && (ctr_ & 1) && irq_) irq_->Trigger();
    }
  } else {
    data[0] = static_cast<uint8_t>((output_.empty() ? 0 : kStatusOutputFull) | kStatusSystemFlag |
                                   (last_was_command_ ? kStatusCommand : 0));
  }
}

void I8042::Write(uint64_t offset, const uint8_t* data, size_t len) {
  if (len == 0) return;
  bool reset = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (offset == 4) {
      last_was_command_ = true;
      // Command 0xfe, and any "pulse output lines" command (0xf0-0xff) that
      // pulses bit 0, resets the CPU.
      if (data[0] == kCmdReset || (data[0] >= 0xf0 && !(data[0] & 1))) reset = true;
      else Command(data[0]);
    } else if (offset == 0) {
      last_was_command_ = false;
      if (pending_cmd_ == kCmdWriteOutputPort && !(data[0] & 1)) reset = true;
      else Data(data[0]);
    }
  }
  // Outside the lock: the handler stops the VM.
  if (reset && on_reset_) on_reset_();
}

void I8042::Command(uint8_t cmd) {
  pending_cmd_ = 0;
  switch (cmd) {
    case kCmdReadCtr:
      Queue(ctr_);
      break;
    case kCmdWriteCtr:
    case kCmdWriteOutputPort:
      pending_cmd_ = cmd;
      break;
    case kCmdSelfTest:
      Queue(0x55);
      break;
    case kCmdKbdTest:
    case kCmdAuxTest:
      Queue(0x00);
      break;
    case kCmdReadOutputPort:
      Queue(0x01);  // reset line not asserted
      break;
    case kCmdKbdDisable:
    case kCmdKbdEnable:
    case kCmdAuxDisable:
    case kCmdAuxEnable:
    default:
      break;
  }
}

void I8042::Data(uint8_t value) {
  uint8_t cmd = pending_cmd_;
  pending_cmd_ = 0;
  if (cmd == kCmdWriteCtr) {
    ctr_ = value;
    return;
  }
  if (cmd == kCmdWriteOutputPort) return;
  // A byte for the keyboard itself: acknowledge it like a plain AT keyboard.
  Queue(kKbdAck);
  if (value == kKbdReset) Queue(kKbdSelfTestPassed);
  if (value == kKbdGetId) {
    Queue(0xab);
    Queue(0x83);
  }
}

void I8042::Queue(uint8_t byte) {
  if (output_.size() >= 16) return;  // a guest cannot grow us without bound
  output_.push_back(byte);
  if ((ctr_ & 1) && irq_) irq_->Trigger();
}

}  // namespace vmstep
