// countersignd's engine for in-process integration tests: opened on `box`'s configuration
// (written first) and started the first time a test asks for it, stopped when reset or
// destroyed. Tests change box.config() before the first get(), or reset() and get() again
// (a daemon restart).
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "daemon/engine.h"
#include "tests/daemon/box_fixture.h"

namespace countersign::test_util {

class EngineHolder {
 public:
  explicit EngineHolder(BoxFixture& box) : box_(box) {}
  ~EngineHolder() { reset(); }
  EngineHolder(const EngineHolder&) = delete;
  EngineHolder& operator=(const EngineHolder&) = delete;

  daemon::Engine& get() {
    if (!engine_) {
      box_.write_config();
      engine_ = must(daemon::Engine::open(box_.config()), "engine");
      auto s = engine_->start();
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
    return *engine_;
  }
  // Stops the engine (daemon-stopped, a final checkpoint); the next get() starts a new one.
  void reset() {
    if (engine_) engine_->stop();
    engine_.reset();
  }
  bool started() const { return engine_ != nullptr; }

 private:
  BoxFixture& box_;
  std::unique_ptr<daemon::Engine> engine_;
};

}  // namespace countersign::test_util
