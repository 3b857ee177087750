#include "app/methods_module.h"

#include <dlfcn.h>

#include <filesystem>

#include "common/strings.h"
#include "methods/builtin.h"

namespace sluice::app {
namespace {

// Where the module sits: beside the running binary.
std::filesystem::path ModulePath() {
  std::error_code ec;
  std::filesystem::path binary = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : binary.parent_path()) / "libsluice_methods.so";
}

Result<const methods::BuiltinMethodsModule*> LoadModule() {
  std::filesystem::path path = ModulePath();
  // Kept for the life of the process: methods and decoded images point into it.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Failure(absl::StatusCode::kFailedPrecondition, "methods_module_missing",
                   StrCat("cannot load the methods module ", path.string(), ": ", dlerror()));
  }
  using Entry = const methods::BuiltinMethodsModule* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, methods::kBuiltinMethodsModuleEntry));
  if (entry == nullptr) {
    return Failure(absl::StatusCode::kFailedPrecondition, "methods_module_missing",
                   StrCat(path.string(), " has no ", methods::kBuiltinMethodsModuleEntry));
  }
  return entry();
}

// The module, loaded on the first call.
const Result<const methods::BuiltinMethodsModule*>& Module() {
  static const Result<const methods::BuiltinMethodsModule*> module = LoadModule();
  return module;
}

}  // namespace

Status RegisterBuiltinMethodsFromModule(methods::Registry& registry,
                                        const methods::remote::RemoteEnv& remote) {
  SLUICE_RETURN_IF_ERROR(Module().status());
  return (*Module())->register_builtin(registry, remote);
}

Result<index::IndexBackend> IndexBackendFromModule() {
  SLUICE_RETURN_IF_ERROR(Module().status());
  return (*Module())->index_backend();
}

}  // namespace sluice::app
