// PcscFixture: the real PC/SC stack with a virtual PIV card, for integration tests.
//
// Starts `pcscd -f` with its own reader configuration (vpcd on a free port pair, see below)
// and its own socket (PCSCLITE_CSOCK_NAME, honoured by PCSC-lite 1.9.9's daemon and client
// library; this process sets it before its first PC/SC call), then tests/tools'
// virtual-piv-card connected to that vpcd, and waits (bounded) until the reader shows a
// card. The destructor stops both.
//
// Debian's vsmartcard-vpcd installs /etc/reader.conf.d/vpcd with CHANNELID 0x8C7B (port
// 35963; the driver opens two readers, on that port and the next). We do not use it: the
// fixture passes `pcscd -c DIR` with a reader.conf of its own on a free port, so tests do
// not collide with a system pcscd or each other. vpcd listens on all interfaces (its
// driver's choice); the card connects to 127.0.0.1 only.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace countersign::test_util {

class PcscFixture {
 public:
  // Starts everything with the card state in `state_file`, logs and sockets under `dir`.
  // Returns nullptr and sets `reason` when pcscd, vpcd or the card cannot start.
  static std::unique_ptr<PcscFixture> start(const std::string& dir, const std::string& state_file,
                                            std::string& reason);
  ~PcscFixture();
  PcscFixture(const PcscFixture&) = delete;
  PcscFixture& operator=(const PcscFixture&) = delete;

  // The PC/SC name of the reader holding the virtual card.
  const std::string& reader() const { return reader_; }
  // Kills the virtual card (as if pulled out) and waits until pcscd sees it gone.
  bool remove_card();
  // Puts a second virtual card, with the state in `state_file`, into vpcd's second reader
  // and waits (bounded) until pcscd shows it. Returns that reader's name, or "" and `reason`.
  std::string insert_second_card(const std::string& state_file, std::string& reason);
  // The pcscd log, for failure messages.
  std::string pcscd_log() const;

 private:
  PcscFixture() = default;
  std::string dir_;
  std::string reader_;
  pid_t pcscd_ = -1;
  pid_t card_ = -1;
  pid_t second_card_ = -1;
  int port_ = -1;
};

}  // namespace countersign::test_util
