// app_fixture_tool DIR [FILES]: writes the app test fixture (app_fixture.h) into DIR, with
// the proposal made now, for scripts/app-screenshots.sh.
#include <cstdio>
#include <filesystem>

#include "tests/app/app_fixture.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: app_fixture_tool DIR [FILES]\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  const std::size_t files = argc > 2 ? static_cast<std::size_t>(std::stoul(argv[2])) : 40;
  const auto fx = countersign::app_fixture::make(argv[1], countersign::system_now(), files);
  std::printf("%s\n", fx.bundle.c_str());
  return 0;
}
