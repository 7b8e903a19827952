// countersign: entry point. All logic lives in the countersign_cli library (cli/cli.cpp).
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  countersign::cli::Io io{std::cin, std::cout, std::cerr, countersign::system_now, false, nullptr};
  io.err_is_tty = ::isatty(STDERR_FILENO) == 1;
  io.getenv = [](const char* name) { return std::getenv(name); };
  return countersign::cli::run(argc, argv, io);
}
