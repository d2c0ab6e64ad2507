// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Uncompressed ("stored") zip archives, as numpy's np.savez writes them: a writer and a strict
// reader of the directory, with CRC-32. No compression, no encryption, no Zip64 (so archives
// stay below 4 GiB and 65,535 entries). Bytes only: io/npz.hpp puts .npy arrays in them. Not for
// direct inclusion.
//
// Layout (PKWARE APPNOTE 6.3): for each entry a local header (30 bytes, name, extra field) and
// the data; then the central directory (46 bytes, name, extra, comment per entry); then the end
// of central directory record (22 bytes, comment). All integers little-endian.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convtape/detail/atomic_file.hpp"
#include "convtape/io/error.hpp"

namespace convtape::detail::zip {

constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kLocalSize = 30;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
/// Offsets and sizes are 32-bit without Zip64.
constexpr std::uint64_t kMaxArchive = 0xffffffffu;
constexpr std::uint32_t kMaxEntries = 0xffffu;
constexpr std::uint16_t kVersion = 20;                       // 2.0: stored entries and directories
constexpr std::uint16_t kUtf8Flag = 1u << 11;                // the name is UTF-8
constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, for reproducible files

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

/// CRC-32 as zip, gzip and PNG use it (reflected polynomial 0xEDB88320, initial and final
/// complement), continuing from `crc` (0 to start): crc32("123456789") == 0xCBF43926.
inline std::uint32_t crc32(const char* data, std::size_t size, std::uint32_t crc = 0) {
  static constexpr std::array<std::uint32_t, 256> table = make_crc_table();
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    crc = table[(crc ^ static_cast<unsigned char>(data[i])) & 0xffu] ^ (crc >> 8);
  }
  return ~crc;
}

inline void put16(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v & 0xffu);
  out += static_cast<char>((v >> 8) & 0xffu);
}
inline void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xffffu);
  put16(out, v >> 16);
}
inline std::uint32_t get16(const char* p) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(p[1])) << 8;
}
inline std::uint32_t get32(const char* p) { return get16(p) | get16(p + 2) << 16; }
inline std::uint64_t get64(const char* p) {
  return static_cast<std::uint64_t>(get32(p)) | static_cast<std::uint64_t>(get32(p + 4)) << 32;
}

inline std::string hex32(std::uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 15u];
  return s;
}

/// Writes a stored zip archive through an `AtomicFile`: `add` each entry, then `finish`.
class Writer {
 public:
  Writer(AtomicFile& out, const char* fn, const std::string& path)
      : out_(out), fn_(fn), path_(path) {}

  /// Appends an entry named `name` (a path inside the archive) holding `data`.
  void add(const std::string& name, const std::string& data) {
    if (entries_ == kMaxEntries)
      fail("more than 65,535 entries need Zip64, which is not supported");
    const std::uint64_t end = offset_ + kLocalSize + name.size() + data.size();
    if (end > kMaxArchive) fail("an archive over 4 GiB needs Zip64, which is not supported");
    const std::uint32_t crc = crc32(data.data(), data.size());
    const auto size = static_cast<std::uint32_t>(data.size());
    const std::uint16_t flags = is_ascii(name) ? 0 : kUtf8Flag;
    std::string local;
    put32(local, kLocalSignature);
    put16(local, kVersion);  // version needed to extract
    put16(local, flags);
    put16(local, 0);  // method: stored
    put16(local, 0);  // time 00:00:00
    put16(local, kDosDate);
    put32(local, crc);
    put32(local, size);  // compressed size
    put32(local, size);  // uncompressed size
    put16(local, static_cast<std::uint32_t>(name.size()));
    put16(local, 0);  // extra field length
    local += name;
    out_.write(local.data(), local.size());
    out_.write(data.data(), data.size());

    put32(directory_, kCentralSignature);
    put16(directory_, 3u << 8 | kVersion);  // made by: Unix, 2.0 (so the attributes below count)
    put16(directory_, kVersion);
    put16(directory_, flags);
    put16(directory_, 0);
    put16(directory_, 0);
    put16(directory_, kDosDate);
    put32(directory_, crc);
    put32(directory_, size);
    put32(directory_, size);
    put16(directory_, static_cast<std::uint32_t>(name.size()));
    put16(directory_, 0);               // extra field length
    put16(directory_, 0);               // comment length
    put16(directory_, 0);               // disk number
    put16(directory_, 0);               // internal attributes
    put32(directory_, 0100644u << 16);  // external attributes: a regular file, rw-r--r--
    put32(directory_, static_cast<std::uint32_t>(offset_));
    directory_ += name;
    offset_ = end;
    ++entries_;
  }

  /// Writes the central directory and the end record.
  void finish() {
    if (offset_ + directory_.size() + kEndSize > kMaxArchive) {
      fail("an archive over 4 GiB needs Zip64, which is not supported");
    }
    std::string end;
    put32(end, kEndSignature);
    put16(end, 0);  // this disk
    put16(end, 0);  // the disk where the directory starts
    put16(end, entries_);
    put16(end, entries_);
    put32(end, static_cast<std::uint32_t>(directory_.size()));
    put32(end, static_cast<std::uint32_t>(offset_));
    put16(end, 0);  // comment length
    out_.write(directory_.data(), directory_.size());
    out_.write(end.data(), end.size());
  }

 private:
  static bool is_ascii(const std::string& s) {
    for (char c : s) {
      if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
  }
  [[noreturn]] void fail(const std::string& message) const { fail_io(fn_, path_, message); }

  AtomicFile& out_;
  const char* fn_;
  const std::string& path_;
  std::string directory_;
  std::uint64_t offset_ = 0;
  std::uint32_t entries_ = 0;
};

/// One entry of an archive: its name and its data, `archive[offset, offset + size)`.
struct Entry {
  std::string name;
  std::size_t offset = 0;
  std::size_t size = 0;
};

/// Reads and checks the directory of the stored zip archive `archive`: the end record, every
/// central directory header and the local header it points to (signatures, names, methods,
/// sizes, all within bounds) and every entry's CRC-32. Returns the entries in directory order.
/// Throws `io_error` (`fn: where: ...`, with the entry's name where one is concerned) for
/// anything else, including compressed or encrypted entries and Zip64.
inline std::vector<Entry> read_directory(std::string_view archive, const char* fn,
                                         const std::string& where) {
  const char* const base = archive.data();
  const std::uint64_t size = archive.size();
  const auto fail = [&](const std::string& message) { fail_at(fn, where, message); };
  if (size > kMaxArchive) {
    fail("is larger than 4 GiB: Zip64 archives are not supported");
  }
  if (size < kEndSize) {
    fail("not a zip archive (" + std::to_string(size) +
         " bytes, fewer than its end record needs); an .npz file is a zip archive of .npy files");
  }
  // The end record is the last 22 bytes unless the archive has a comment (up to 65,535 bytes).
  std::uint64_t end = size - kEndSize;
  const std::uint64_t lowest = end > 0xffffu ? end - 0xffffu : 0;
  for (;; --end) {
    if (get32(base + end) == kEndSignature && end + kEndSize + get16(base + end + 20) == size) {
      break;
    }
    if (end == lowest) {
      fail(
          "not a zip archive (no end of central directory record); an .npz file is a zip "
          "archive of .npy files");
    }
  }
  const char* e = base + end;
  const std::uint32_t entries = get16(e + 10);
  const std::uint32_t directory_size = get32(e + 12);
  const std::uint32_t directory_offset = get32(e + 16);
  if ((end >= kZip64LocatorSize &&
       get32(base + end - kZip64LocatorSize) == kZip64LocatorSignature) ||
      entries == 0xffffu || directory_size == 0xffffffffu || directory_offset == 0xffffffffu) {
    fail("is a Zip64 archive, which is not supported (archives up to 4 GiB and 65,535 arrays are)");
  }
  if (get16(e + 4) != 0 || get16(e + 6) != 0 || get16(e + 8) != entries) {
    fail("is a multi-disk (split) zip archive, which is not supported");
  }
  if (static_cast<std::uint64_t>(directory_offset) + directory_size != end) {
    fail("malformed zip archive: the central directory (" + std::to_string(directory_size) +
         " bytes at byte " + std::to_string(directory_offset) +
         ") does not end where the end record begins (byte " + std::to_string(end) + ")");
  }

  std::vector<Entry> result;
  result.reserve(entries);
  std::uint64_t p = directory_offset;
  for (std::uint32_t i = 0; i < entries; ++i) {
    const std::string header =
        "central directory header " + std::to_string(i + 1) + " of " + std::to_string(entries);
    if (p + kCentralSize > end || get32(base + p) != kCentralSignature) {
      fail("malformed zip archive: " + header + " is missing or truncated");
    }
    const char* c = base + p;
    const std::uint32_t flags = get16(c + 8);
    const std::uint32_t method = get16(c + 10);
    const std::uint32_t crc = get32(c + 16);
    const std::uint32_t stored_size = get32(c + 20);
    const std::uint32_t data_size = get32(c + 24);
    const std::uint32_t name_size = get16(c + 28);
    const std::uint64_t variable = name_size + get16(c + 30) + get16(c + 32);
    const std::uint32_t local_offset = get32(c + 42);
    if (p + kCentralSize + variable > end) {
      fail("malformed zip archive: " + header + " runs past the central directory");
    }
    Entry entry;
    entry.name.assign(c + kCentralSize, name_size);
    p += kCentralSize + variable;
    const std::string at = where + ", entry '" + entry.name + "'";
    const auto fail_entry = [&](const std::string& message) { fail_at(fn, at, message); };
    if ((flags & 1u) != 0) fail_entry("is encrypted, which is not supported");
    if (method == 8) {
      fail_entry(
          "is compressed (deflate): compressed .npz (np.savez_compressed) is not supported; "
          "save with np.savez");
    }
    if (method != 0) {
      fail_entry("uses compression method " + std::to_string(method) +
                 ", which is not supported (only stored entries, as np.savez writes)");
    }
    if (stored_size == 0xffffffffu || data_size == 0xffffffffu || local_offset == 0xffffffffu) {
      fail_entry("has Zip64 sizes, which are not supported");
    }
    if (stored_size != data_size) {
      fail_entry("malformed: a stored entry of " + std::to_string(data_size) + " bytes takes " +
                 std::to_string(stored_size));
    }

    // The local header must agree with the directory (numpy writes Zip64 extra fields with the
    // sizes there, and a writer that could not seek leaves them to a data descriptor).
    if (static_cast<std::uint64_t>(local_offset) + kLocalSize > directory_offset ||
        get32(base + local_offset) != kLocalSignature) {
      fail_entry("its local header (at byte " + std::to_string(local_offset) +
                 ") is missing or truncated");
    }
    const char* l = base + local_offset;
    const std::uint32_t local_flags = get16(l + 6);
    const std::uint32_t local_name_size = get16(l + 26);
    const std::uint32_t local_extra_size = get16(l + 28);
    const std::uint64_t data_offset =
        static_cast<std::uint64_t>(local_offset) + kLocalSize + local_name_size + local_extra_size;
    if (data_offset > directory_offset) fail_entry("its local header is truncated");
    if (std::string_view(l + kLocalSize, local_name_size) != entry.name) {
      fail_entry("malformed: its local header names '" +
                 std::string(l + kLocalSize, local_name_size) + "'");
    }
    if (get16(l + 8) != method) fail_entry("malformed: local and central methods differ");
    if ((local_flags & 8u) == 0) {
      std::uint64_t local_stored = get32(l + 18);
      std::uint64_t local_data = get32(l + 22);
      if (local_stored == 0xffffffffu && local_data == 0xffffffffu) {  // Zip64 extra field
        const char* x = l + kLocalSize + local_name_size;
        for (std::uint32_t k = 0; k + 4 <= local_extra_size;) {
          const std::uint32_t id = get16(x + k);
          const std::uint32_t length = get16(x + k + 2);
          if (k + 4 + length > local_extra_size) break;
          if (id == 1 && length >= 16) {
            local_data = get64(x + k + 4);
            local_stored = get64(x + k + 12);
            break;
          }
          k += 4 + length;
        }
      }
      if (get32(l + 14) != crc || local_stored != stored_size || local_data != data_size) {
        fail_entry("malformed: the local header's CRC or sizes differ from the directory's");
      }
    }
    if (data_offset + data_size > directory_offset) {
      fail_entry("truncated: its " + std::to_string(data_size) + " bytes at byte " +
                 std::to_string(data_offset) + " run past the entries (" +
                 std::to_string(directory_offset) + " bytes)");
    }
    entry.offset = static_cast<std::size_t>(data_offset);
    entry.size = data_size;
    const std::uint32_t actual = crc32(base + entry.offset, entry.size);
    if (actual != crc) {
      fail_entry("CRC-32 mismatch (the directory says " + hex32(crc) + ", the data give " +
                 hex32(actual) + "): the file is corrupt");
    }
    result.push_back(std::move(entry));
  }
  std::vector<std::string_view> names;
  names.reserve(result.size());
  for (const Entry& entry : result) names.emplace_back(entry.name);
  std::sort(names.begin(), names.end());
  const auto twice = std::adjacent_find(names.begin(), names.end());
  if (twice != names.end()) {
    fail_at(fn, where + ", entry '" + std::string(*twice) + "'", "appears twice in the archive");
  }
  if (p != end) {
    fail("malformed zip archive: the central directory has " + std::to_string(end - p) +
         " bytes after its " + std::to_string(entries) + " entries");
  }
  return result;
}

}  // namespace convtape::detail::zip
