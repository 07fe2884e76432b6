// The PC keyboard controller, only as far as Linux needs it: the i8042
// driver's probe (controller commands, a keyboard that acknowledges) and
// the reset line. With reboot=k the guest's reboot() pulses the reset line
// (command 0xfe on port 0x64); the VMM ends the VM there, so for us "reset"
// is how a guest powers off.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "devices/bus.h"
#include "devices/irq.h"

namespace vmstep {

class I8042 : public BusDevice {
 public:
  I8042(IrqLine* irq, std::function<void()> on_reset) : irq_(irq), on_reset_(std::move(on_reset)) {}
  // Offsets: 0 is port 0x60 (data), 4 is port 0x64 (status/command).
  void Read(uint64_t offset, uint8_t* data, size_t len) override;
  void Write(uint64_t offset, const uint8_t* data, size_t len) override;

 private:
  void Command(uint8_t cmd);
  void Data(uint8_t value);
  void Queue(uint8_t byte);

  std::mutex mu_;
  IrqLine* irq_;
  std::function<void()> on_reset_;
  std::deque<uint8_t> output_;
  uint8_t ctr_ = 0x01;        // controller configuration: keyboard interrupt on
  uint8_t pending_cmd_ = 0;   // a command waiting for its data byte
  bool last_was_command_ = false;
};

}  // namespace vmstep
