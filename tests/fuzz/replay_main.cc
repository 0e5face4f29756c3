// The main of a fuzz target built without libFuzzer (g++, or SOCKLAB_FUZZ off): runs the target
// once on each file named on the command line and on each file in a named directory (its seed
// corpus), so every build checks that the harness compiles and that every seed keeps its
// properties. A crash or a failed property names the file on stderr first.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool Replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
  // A copy of exactly `size` bytes, as libFuzzer passes it: a read past the end is then a heap
  // overflow the sanitizers see.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.data(), input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path path(argv[i]);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) {
          files.push_back(entry.path());
        }
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(path);
    }
    for (const std::filesystem::path& file : files) {
      if (!Replay(file)) {
        return 1;
      }
      ++replayed;
    }
  }
  // An empty corpus would prove nothing: say so rather than pass.
  if (replayed == 0) {
    std::fprintf(stderr, "replay: no input files found\n");
    return 1;
  }
  std::printf("replay: %zu inputs, every property held\n", replayed);
  return 0;
}
