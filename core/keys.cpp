#include "core/keys.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.hpp"

namespace hallmark {

caf::error save_key(const std::string& path, const key_pair& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ec::io, "cannot create key file " + path + ": "
                                + std::strerror(errno));
  auto seed = key.seed();
  auto text = to_hex(seed) + "\n";
  sodium_memzero(seed.data(), seed.size());
  auto ok = ::write(fd, text.data(), text.size())
            == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok)
    return make_error(ec::io, "cannot write key file " + path);
  return {};
}

caf::expected<key_pair> load_key(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(ec::io, "cannot open key file " + path + ": "
                                + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return make_error(ec::io,
                      "key file " + path
                        + " must not be readable by others (chmod 600)");
  }
  char buf[128];
  auto n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  if (n <= 0)
    return make_error(ec::io, "cannot read key file " + path);
  std::string_view text{buf, static_cast<size_t>(n)};
  while (!text.empty()
         && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  auto seed = from_hex_fixed<32>(text);
  sodium_memzero(buf, sizeof(buf));
  if (!seed)
    return make_error(ec::io,
                      "key file " + path + " does not hold a 32-byte hex seed");
  auto kp = key_pair::from_seed(*seed);
  sodium_memzero(seed->data(), seed->size());
  return kp;
}

} // namespace hallmark
