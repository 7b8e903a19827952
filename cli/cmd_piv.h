// PIV smartcards in the CLI: `key list`, `key enroll --piv`, and the signer behind
// `sign --piv`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "core/keys.h"

namespace countersign::cli {

// Registers `key list` and `key enroll` under `key`.
void add_piv_key_commands(CLI::App* key, Registry& r);

struct PivOptions {
  std::string reader;  // empty: the only reader with a card
  std::string slot = "9c";
  std::string pin_file;  // empty: prompt on the terminal
};

// A card signer with its open connection; destroyed when the signature is made.
class OpenedSigner {
 public:
  virtual ~OpenedSigner() = default;
  virtual Signer& signer() = 0;
  virtual std::string describe() const = 0;  // "slot 9c of the card in READER"
};

// Opens the card, reads the slot's key, and takes the PIN (file or terminal prompt).
Result<std::unique_ptr<OpenedSigner>> open_piv_signer(const PivOptions& o);

}  // namespace countersign::cli
