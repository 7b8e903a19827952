// countersign-app: time to open two 100,000-file manifests and show their diff (target
// under 1 s): read + parse + validate + hash both files in parallel (what File >
// Open does with both selected, and the known-manifests lookup),
// diff_manifests, and fill the Diff and Review models. Input files are written first and
// not timed. Usage: app_diff_bench [FILES] (default 100000); prints each phase and the total.
#include <sys/resource.h>
#include <QGuiApplication>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/model/diff_model.h"
#include "app/model/document.h"
#include "app/model/manifest_files_model.h"
#include "tests/app/app_fixture.h"

namespace {

using Steady = std::chrono::steady_clock;
double since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

// CPU seconds of the whole process (every thread), user + system: on a shared machine,
// wall time is inflated by other work and CPU time is not.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace countersign;
  if (std::getenv("QT_QPA_PLATFORM") == nullptr) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  QGuiApplication qt(argc, argv);
  const std::size_t n = argc > 1 ? static_cast<std::size_t>(std::stoul(argv[1])) : 100000;
  const std::string dir =
      std::filesystem::temp_directory_path() / ("countersign-app-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string before = dir + "/before.json", after = dir + "/after.json";
  app_fixture::must_ok(
      write_file_atomic(before, to_pretty_json(app_fixture::make_manifest("1", n, 0).to_json())), "w");
  app_fixture::must_ok(
      write_file_atomic(after, to_pretty_json(app_fixture::make_manifest("2", n, 1).to_json())), "w");

  const auto t0 = Steady::now();
  const double cpu0 = cpu_seconds();
  auto docs = app::load_documents({before, after});  // as File > Open with both selected
  auto b = app_fixture::must(std::move(docs[0]), "load before");
  auto a = app_fixture::must(std::move(docs[1]), "load after");
  const double t_load = since(t0);
  auto t = Steady::now();
  ManifestDiff d = diff_manifests(std::get<Manifest>(b.value), std::get<Manifest>(a.value));
  const double t_diff = since(t);
  t = Steady::now();
  app::DiffModel diff_model;
  diff_model.set_diff(std::move(d));
  app::ManifestFilesModel files;
  files.set_files(std::get<Manifest>(a.value).files());
  // What a view asks for on first paint: the first screenful of rows.
  for (int r = 0; r < 40 && r < diff_model.rowCount(); ++r)
    for (int c = 0; c < app::DiffModel::kColumnCount; ++c) (void)diff_model.index(r, c).data();
  const double t_models = since(t);
  const double total = since(t0);
  const double cpu = cpu_seconds() - cpu0;
  std::printf(
      "app diff bench, 2 x %zu files: load+parse %.3f s, diff %.3f s, models %.3f s, total %.3f s (target < "
      "1 s); CPU time %.3f s over %u cores\n",
      n, t_load, t_diff, t_models, total, cpu, std::max(1u, std::thread::hardware_concurrency()));
  std::filesystem::remove_all(dir);
  return total < 1.0 ? 0 : 1;
}
