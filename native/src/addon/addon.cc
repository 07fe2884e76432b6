// The node addon: what the TypeScript side needs in-process. Only the KVM
// probe lives here; guests run in vmstep-vmm, a separate jailed process
// (src/vm/launch.ts), never inside Node.
#include <napi.h>

#include "kvm/probe.h"

namespace {

Napi::Value ProbeKvm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "/dev/kvm";
  vmstep::KvmProbe p = vmstep::ProbeKvm(path.c_str());
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", p.available);
  o.Set("canRunLinux", p.can_run_linux);
  o.Set("reason", p.reason);
  o.Set("apiVersion", p.api_version);
  o.Set("irqfd", p.irqfd);
  o.Set("ioeventfd", p.ioeventfd);
  o.Set("maxVcpus", p.max_vcpus);
  o.Set("module", p.module);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probeKvm", Napi::Function::New(env, ProbeKvm));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(vmstep, Init)
