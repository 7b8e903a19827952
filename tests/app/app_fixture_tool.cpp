// app_fixture_tool DIR [FILES]: writes the app test fixture (app_fixture.h) into DIR, with
// the proposal made now, for scripts/app-screenshots.sh; and the box's side of it: an
// attestation document of box-7f3a (att.cbor) signed under a test Nitro root (root.pem),
// with the box's log key (box-log.pub) and TLS certificate (box-tls.pem) it binds, all made
// by tests/nitro_test_box.h with certificates valid an hour around now.
#include <cstdio>
#include <filesystem>

#include "tests/app/app_fixture.h"
#include "tests/nitro_test_box.h"

namespace {

// The box's attestation files, copied out of the test box's scratch directory into `dir`.
void write_box_attestation(const std::string& dir, countersign::UnixTime now) {
  namespace fs = std::filesystem;
  const countersign::test_util::TempDir scratch("app-fixture-box");
  const countersign::test_util::NitroTestBox box(scratch, now);
  const std::string doc = box.document("att.cbor", box.binding("box-7f3a"), {});
  const auto copy = [&](const std::string& from, const std::string& to) {
    fs::copy_file(from, fs::path(dir) / to, fs::copy_options::overwrite_existing);
  };
  copy(doc, "att.cbor");
  copy(box.file("root.pem"), "root.pem");
  copy(box.file("log.pub"), "box-log.pub");
  copy(box.file("tls.pem"), "box-tls.pem");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: app_fixture_tool DIR [FILES]\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  const std::size_t files = argc > 2 ? static_cast<std::size_t>(std::stoul(argv[2])) : 40;
  const countersign::UnixTime now = countersign::system_now();
  const auto fx = countersign::app_fixture::make(argv[1], now, files);
  write_box_attestation(argv[1], now);
  std::printf("%s\n", fx.bundle.c_str());
  return 0;
}
