#include "core/keys.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include <sodium.h>

#include "core/error.hpp"

namespace hallmark {

caf::error write_private_file(const std::string& path, std::string_view text,
                              std::string_view what) {
  auto name = std::string{what} + " " + path;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ec::io,
                      "cannot create " + name + ": " + std::strerror(errno));
  auto n = ::write(fd, text.data(), text.size());
  std::string why = n < 0 ? std::strerror(errno) : "";
  if (n >= 0 && static_cast<size_t>(n) != text.size())
    why = "a short write (the disk is full?)";
  if (::fsync(fd) != 0 && why.empty())
    why = std::strerror(errno);
  ::close(fd);
  if (!why.empty()) {
    ::unlink(path.c_str());
    return make_error(ec::io, "cannot write " + name + ": " + why);
  }
  return {};
}

caf::expected<std::string>
read_private_file(const std::string& path, size_t max, std::string_view what) {
  auto name = std::string{what} + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(ec::io,
                      "cannot open " + name + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return make_error(ec::io,
                      name + " must not be readable by others (chmod 600)");
  }
  std::vector<char> buf(max);
  auto n = ::read(fd, buf.data(), buf.size());
  auto why = n < 0 ? std::strerror(errno) : "";
  ::close(fd);
  std::string text{buf.data(), n > 0 ? static_cast<size_t>(n) : 0};
  sodium_memzero(buf.data(), buf.size());
  // An empty file is read as empty: the caller says what it should hold.
  if (n < 0)
    return make_error(ec::io, "cannot read " + name + ": " + why);
  while (!text.empty()
         && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

caf::error save_key(const std::string& path, const key_pair& key) {
  auto seed = key.seed();
  auto text = to_hex(seed) + "\n";
  sodium_memzero(seed.data(), seed.size());
  auto err = write_private_file(path, text, "key file");
  sodium_memzero(text.data(), text.size());
  return err;
}

caf::expected<key_pair> load_key(const std::string& path) {
  auto text = read_private_file(path, 128, "key file");
  if (!text)
    return text.error();
  auto seed = from_hex_fixed<32>(*text);
  sodium_memzero(text->data(), text->size());
  if (!seed)
    return make_error(ec::io,
                      "key file " + path + " does not hold a 32-byte hex seed");
  auto kp = key_pair::from_seed(*seed);
  sodium_memzero(seed->data(), seed->size());
  return kp;
}

} // namespace hallmark
