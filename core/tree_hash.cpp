#include "core/tree_hash.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/sha256.h"

namespace countersign {

namespace fs = std::filesystem;

Result<std::vector<ManifestFile>> hash_tree(const std::string& dir, unsigned threads,
                                            TreeHashProgress* progress) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error(Errc::kIo, dir + " is not a directory");
  std::vector<ManifestFile> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return make_error(Errc::kIo, "cannot list " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(Errc::kIo, "cannot list " + dir + ": " + ec.message());
    const fs::directory_entry& e = *it;
    // Lexically: fs::relative resolves symlinks and would name a link by its target.
    std::string rel = e.path().lexically_relative(dir).generic_string();
    if (e.is_symlink(ec))
      return make_error(Errc::kInvalidArgument, rel + " is a symbolic link; copy the file instead");
    if (e.is_directory(ec)) continue;
    if (!e.is_regular_file(ec)) return make_error(Errc::kInvalidArgument, rel + " is not a regular file");
    if (auto why = check_manifest_path(rel)) return make_error(Errc::kInvalidArgument, rel + ": " + *why);
    ManifestFile f;
    f.path = std::move(rel);
    f.size = static_cast<std::uint64_t>(e.file_size(ec));
    files.push_back(std::move(f));
  }
  if (files.empty()) return make_error(Errc::kInvalidArgument, dir + " contains no files");
  std::sort(files.begin(), files.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.path < b.path; });

  // Largest first, so one big file does not start last and leave the other cores idle.
  std::vector<std::size_t> order(files.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return files[a].size > files[b].size; });
  if (progress != nullptr) {
    progress->files_total = files.size();
    for (const auto& f : files) progress->bytes_total += f.size;
  }

  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, files.size()));
  std::atomic<std::size_t> next{0};
  std::mutex err_mu;
  std::optional<Error> first_error;
  auto on_bytes = [](std::uint64_t n, void* user) {
    if (user != nullptr) static_cast<TreeHashProgress*>(user)->bytes_done += n;
  };
  auto worker = [&] {
    for (;;) {
      std::size_t k = next.fetch_add(1);
      if (k >= order.size()) return;
      ManifestFile& f = files[order[k]];
      std::string full = (fs::path(dir) / f.path).string();
      auto d = sha256_file(full, on_bytes, progress);
      if (!d.ok()) {
        std::lock_guard lock(err_mu);
        if (!first_error) first_error = d.error();
        next = order.size();
        return;
      }
      struct stat st {};
      if (::stat(full.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != f.size) {
        std::lock_guard lock(err_mu);
        if (!first_error) first_error = Error(Errc::kIo, f.path + " changed size while it was being hashed");
        next = order.size();
        return;
      }
      f.sha256 = *d;
      if (progress != nullptr) ++progress->files_done;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (first_error) return *first_error;
  return files;
}

}  // namespace countersign
