// A 16550A UART at COM1, transmit side only: enough for Linux's 8250 driver
// to probe it (scratch and loopback tests) and for the console and tty to
// write through it with THR-empty interrupts. Received data never arrives.
#pragma once
#include <cstdint>
#include <mutex>

#include "devices/bus.h"
#include "devices/console.h"
#include "devices/irq.h"

namespace vmstep {

class Serial : public BusDevice {
 public:
  Serial(ConsoleSink* sink, IrqLine* irq) : sink_(sink), irq_(irq) {}
  void Read(uint64_t offset, uint8_t* data, size_t len) override;
  void Write(uint64_t offset, const uint8_t* data, size_t len) override;

 private:
  uint8_t ReadRegister(unsigned reg);
  void WriteRegister(unsigned reg, uint8_t value);
  void UpdateInterrupt();

  std::mutex mu_;
  ConsoleSink* sink_;
  IrqLine* irq_;
  uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0x08, scr_ = 0, dll_ = 0x0c, dlm_ = 0;
  bool thr_empty_pending_ = false;
};

}  // namespace vmstep
