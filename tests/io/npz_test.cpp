// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/io/npz.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "convtape/detail/zip.hpp"
#include "convtape/io/npy.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

namespace {

using convtape::check_state_dict;
using convtape::find_array;
using convtape::Index;
using convtape::io_error;
using convtape::load_npz;
using convtape::NamedArray;
using convtape::save_npz;
using convtape::Shape4;
using convtape::shape_error;
using convtape::Tensor;
using support::error_message;
using support::read_bytes;
using support::shape_error_message;
using support::TempDir;
using support::write_bytes;

/// A tensor of `shape` whose element k is k / 4 - 3 + offset (exact in float and double).
template <class S>
Tensor<S> counting(const Shape4& shape, int offset = 0) {
  Tensor<S> t(shape);
  for (Index k = 0; k < t.size(); ++k) t.data()[k] = static_cast<S>(k) / 4 - 3 + offset;
  return t;
}

template <class S>
bool same_values(const Tensor<S>& a, const Tensor<S>& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(S) * a.size()) == 0);
}

/// A small model's arrays in PyTorch's naming: every rank from 0 to 4, and an empty array.
template <class S>
std::vector<NamedArray<S>> model() {
  return {{"0.weight", counting<S>({2, 1, 3, 3})},               // conv weight, 4-D as is
          {"0.bias", counting<S>({1, 2, 1, 1}, 1), {2}},         // held (1, C, 1, 1), 1-D
          {"3.weight", counting<S>({1, 1, 4, 6}, 2), {4, 6}},    // linear (out, in)
          {"3.extra", counting<S>({1, 2, 3, 2}, 3), {2, 3, 2}},  // 3-D
          {"step", counting<S>({1, 1, 1, 1}, 7), {}},            // 0-D scalar
          {"empty", Tensor<S>(1, 1, 0, 3), {0, 3}}};
}

std::uint32_t le32(const std::string& bytes, std::size_t at) {
  return convtape::detail::zip::get32(bytes.data() + at);
}

TEST_CASE("crc32 gives the standard check values", "[io][npz]") {
  using convtape::detail::zip::crc32;
  CHECK(crc32("123456789", 9) == 0xcbf43926u);  // the CRC-32 (ISO-HDLC) check value
  CHECK(crc32("", 0) == 0u);
  CHECK(crc32("a", 1) == 0xe8b7be43u);
  // Continuing a CRC over a second piece equals the CRC of the whole.
  CHECK(crc32("6789", 4, crc32("12345", 5)) == 0xcbf43926u);
}

TEMPLATE_TEST_CASE("save_npz then load_npz gives back every name, numpy shape and value",
                   "[io][npz]", float, double) {
  TempDir dir;
  const std::string path = dir.file("model.npz");
  const std::vector<NamedArray<TestType>> saved = model<TestType>();
  save_npz(path, saved);
  const std::vector<NamedArray<TestType>> loaded = load_npz<TestType>(path);
  REQUIRE(loaded.size() == saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    INFO(saved[i].name);
    CHECK(loaded[i].name == saved[i].name);  // in the saved order
    CHECK(loaded[i].shape == saved[i].shape);
    CHECK(same_values(loaded[i].value, saved[i].value));
  }
  // Tensors take the numpy shape with leading 1s.
  CHECK(loaded[0].value.shape() == Shape4{2, 1, 3, 3});
  CHECK(loaded[1].value.shape() == Shape4{1, 1, 1, 2});
  CHECK(loaded[2].value.shape() == Shape4{1, 1, 4, 6});
  CHECK(loaded[3].value.shape() == Shape4{1, 2, 3, 2});
  CHECK(loaded[4].value.shape() == Shape4{1, 1, 1, 1});
  CHECK(loaded[5].value.shape() == Shape4{1, 1, 0, 3});
}

TEST_CASE("float32 arrays load into double exactly; float64 into float is refused", "[io][npz]") {
  TempDir dir;
  save_npz(dir.file("f.npz"), model<float>());
  const auto wide = load_npz<double>(dir.file("f.npz"));
  const auto narrow = model<float>();
  for (std::size_t i = 0; i < narrow.size(); ++i) {
    CHECK(same_values(wide[i].value, narrow[i].value.cast<double>()));
  }
  save_npz(dir.file("d.npz"), model<double>());
  CHECK_THAT(
      error_message<io_error>([&] { load_npz<float>(dir.file("d.npz")); }),
      Contains("load_npz") && Contains("d.npz', entry '0.weight.npy'") && Contains("float64"));
}

TEST_CASE("save_npz writes a stored zip of .npy files, the same bytes every time", "[io][npz]") {
  TempDir dir;
  const Tensor<double> weight = counting<double>({2, 1, 3, 3});
  save_npz<double>(dir.file("a.npz"), {{"w", weight}});
  convtape::save_npy(dir.file("w.npy"), weight);
  const std::string npz = read_bytes(dir.file("a.npz"));
  const std::string npy = read_bytes(dir.file("w.npy"));
  // Local header (30 bytes), the name, then the entry: exactly what save_npy writes.
  REQUIRE(npz.size() == 30 + 5 + npy.size() + 46 + 5 + 22);
  CHECK(npz.compare(0, 4, "PK\x03\x04") == 0);
  CHECK(le32(npz, 8) == 0);  // flags 0 and method 0 (stored)
  CHECK(le32(npz, 14) == convtape::detail::zip::crc32(npy.data(), npy.size()));
  CHECK(le32(npz, 18) == npy.size());  // compressed size
  CHECK(le32(npz, 22) == npy.size());  // uncompressed size
  CHECK(npz.substr(30, 5) == "w.npy");
  CHECK(npz.substr(35, npy.size()) == npy);
  // The central directory, then the end record: one entry, directory at its offset.
  const std::size_t directory = 35 + npy.size();
  CHECK(npz.compare(directory, 4, "PK\x01\x02") == 0);
  CHECK(npz.substr(directory + 46, 5) == "w.npy");
  const std::size_t end = npz.size() - 22;
  CHECK(npz.compare(end, 4, "PK\x05\x06") == 0);
  CHECK(le32(npz, end + 8) == 0x00010001u);  // 1 entry on this disk, 1 in all
  CHECK(le32(npz, end + 12) == 46 + 5);      // directory size
  CHECK(le32(npz, end + 16) == directory);   // directory offset
  // Reproducible: no time stamp, nothing random.
  save_npz<double>(dir.file("b.npz"), {{"w", weight}});
  CHECK(read_bytes(dir.file("b.npz")) == npz);
}

TEST_CASE("save_npz checks names and shapes before writing anything", "[io][npz][errors]") {
  TempDir dir;
  const std::string path = dir.file("m.npz");
  write_bytes(path, "previous contents");
  const Tensor<float> t = counting<float>({1, 2, 1, 1});
  SECTION("a numpy shape that does not fit the tensor") {
    CHECK_THAT(shape_error_message([&] { NamedArray<float>("b", t, {3}); }),
               Contains("NamedArray") && Contains("array 'b'") && Contains("(3,)") &&
                   Contains("(1, 2, 1, 1)"));
    CHECK_THROWS_AS(NamedArray<float>("b", t, {1, 1, 1, 1, 2}), shape_error);  // 5-D
    CHECK_THROWS_AS(NamedArray<float>("b", t, {-1, -2}), shape_error);
    CHECK_THROWS_AS(NamedArray<float>("b", t, {0, 2}), shape_error);
    CHECK_THROWS_AS(NamedArray<float>("b", Tensor<float>(1, 1, 0, 3), {3}), shape_error);
    CHECK_THROWS_AS(NamedArray<float>("b", t, {Index(1) << 62, Index(1) << 62}), shape_error);
    NamedArray<float> changed("b", t, {2});
    changed.shape = {2, 2};  // public members may change after construction
    CHECK_THAT(shape_error_message([&] { save_npz<float>(path, {changed}); }),
               Contains("save_npz") && Contains("(2, 2)"));
  }
  SECTION("repeated, empty or NUL-holding names") {
    CHECK_THAT(shape_error_message([&] {
                 save_npz<float>(path, {{"a", t}, {"b", t}, {"a", t}});
               }),
               Contains("save_npz") && Contains("two arrays are named 'a'"));
    CHECK_THROWS_AS(save_npz<float>(path, {{"", t}}), shape_error);
    CHECK_THROWS_AS(save_npz<float>(path, {{std::string("a\0b", 3), t}}), shape_error);
  }
  CHECK(read_bytes(path) == "previous contents");
}

TEST_CASE("find_array and check_state_dict name what is missing, extra or mismatched",
          "[io][npz]") {
  const std::vector<NamedArray<float>> arrays = model<float>();
  CHECK(find_array(arrays, "3.weight").shape == std::vector<Index>{4, 6});
  CHECK_THAT(shape_error_message([&] { find_array(arrays, "9.weight"); }),
             Contains("find_array") && Contains("'9.weight'") && Contains("'0.weight', '0.bias'"));

  std::vector<std::pair<std::string, std::vector<Index>>> expected = {
      {"step", {}},         {"0.weight", {2, 1, 3, 3}}, {"0.bias", {2}},
      {"3.weight", {4, 6}}, {"3.extra", {2, 3, 2}},     {"empty", {0, 3}}};
  check_state_dict(arrays, expected);  // any order

  SECTION("a missing array") {
    expected.push_back({"6.weight", {10, 4}});
    CHECK_THAT(shape_error_message([&] { check_state_dict(arrays, expected); }),
               Contains("check_state_dict") && Contains("missing array '6.weight'") &&
                   Contains("(10, 4)"));
  }
  SECTION("another shape") {
    expected[2].second = {1, 2, 1, 1};
    CHECK_THAT(shape_error_message([&] { check_state_dict(arrays, expected); }),
               Contains("'0.bias' has shape (2,)") && Contains("expects (1, 2, 1, 1)"));
  }
  SECTION("an array the model does not have") {
    expected.erase(expected.begin() + 3);
    CHECK_THAT(shape_error_message([&] { check_state_dict(arrays, expected); }),
               Contains("unexpected array '3.weight' of shape (4, 6)"));
  }
}

TEST_CASE("load_npz rejects what is not an uncompressed .npz with io_error naming the problem",
          "[io][npz][errors]") {
  TempDir dir;
  const std::string path = dir.file("bad.npz");
  const auto rejects = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_message<io_error>([&] { load_npz<double>(path); });
  };
  save_npz(path, model<double>());
  const std::string good = read_bytes(path);
  const std::string first_entry = "'" + path + "', entry '0.weight.npy'";

  SECTION("a missing file") {
    CHECK_THAT(error_message<io_error>([&] { load_npz<double>(dir.file("none.npz")); }),
               Contains("load_npz") && Contains("none.npz") && Contains("cannot open"));
  }
  SECTION("not a zip archive") {
    convtape::save_npy(dir.file("a.npy"), counting<double>({1, 1, 2, 2}));
    CHECK_THAT(rejects(read_bytes(dir.file("a.npy"))), Contains("not a zip archive"));
    CHECK_THAT(rejects(""), Contains("not a zip archive"));
  }
  SECTION("a corrupt byte in an array's data") {
    std::string bad = good;
    bad[30 + 12 + 128 + 5] ^= 0x10;  // inside 0.weight's values
    CHECK_THAT(rejects(bad), Contains(first_entry) && Contains("CRC-32 mismatch"));
  }
  SECTION("a compressed archive (np.savez_compressed)") {
    std::string bad = good;
    bad[8] = 8;  // the first local header's method: deflate
    const std::size_t directory = le32(good, good.size() - 22 + 16);
    bad[directory + 10] = 8;  // and its central header's
    CHECK_THAT(rejects(bad),
               Contains(first_entry) &&
                   Contains("compressed .npz (np.savez_compressed) is not supported"));
  }
  SECTION("Zip64") {
    std::string bad = good;
    bad[bad.size() - 22 + 10] = bad[bad.size() - 22 + 11] = '\xff';  // 65535 entries
    CHECK_THAT(rejects(bad), Contains("Zip64"));
  }
  SECTION("an archive over 4 GiB, refused before it is read") {
    write_bytes(path, good);
    std::filesystem::resize_file(path, (std::uintmax_t(1) << 32) + 1);  // sparse: costs nothing
    CHECK_THAT(error_message<io_error>([&] { load_npz<double>(path); }),
               Contains("larger than 4 GiB") && Contains("Zip64"));
    std::filesystem::remove(path);
  }
  SECTION("entries that are not float .npy arrays") {
    using convtape::detail::AtomicFile;
    const auto archive = [&](const std::string& name, const std::string& data) {
      AtomicFile out("test", path);
      convtape::detail::zip::Writer zip(out, "test", path);
      zip.add(name, data);
      zip.finish();
      out.commit();
      return read_bytes(path);
    };
    CHECK_THAT(rejects(archive("notes.txt", "hello")),
               Contains("entry 'notes.txt'") && Contains("not named like a .npy array"));
    CHECK_THAT(rejects(archive("x.npy", "hello")),
               Contains("entry 'x.npy'") && Contains("not a .npy file"));
    std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }";
    dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
    dict += '\n';
    const std::string int64 = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) +
                              '\0' + dict + std::string(8, '\0');
    CHECK_THAT(rejects(archive("i.npy", int64)),
               Contains("entry 'i.npy'") && Contains("dtype '<i8' is not supported"));
  }
  SECTION("an array of more than 4 dimensions") {
    using convtape::detail::AtomicFile;
    AtomicFile out("test", path);
    convtape::detail::zip::Writer zip(out, "test", path);
    const double one = 1;
    zip.add("five.npy", convtape::detail::npy::array_bytes<double>({1, 1, 1, 1, 1}, &one, 1));
    zip.finish();
    out.commit();
    CHECK_THAT(shape_error_message([&] { load_npz<double>(path); }),
               Contains("entry 'five.npy'") && Contains("5-D"));
  }
}

/// Little-endian bytes of `v`, `n` of them.
std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// How a zip writer may fill an entry's local header.
enum class LocalForm {
  sizes,       ///< CRC and sizes in the header
  zip64,       ///< sizes 0xFFFFFFFF, the real ones in a Zip64 extra field (zipfile, force_zip64)
  descriptor,  ///< flag bit 3: zeros, then a data descriptor after the data (unseekable output)
};

/// A one-entry stored zip archive built by hand from the APPNOTE's layout, `local_size` being
/// what the Zip64 extra field claims (the real size unless a test spoils it).
std::string hand_zip(const std::string& name, const std::string& data, LocalForm form,
                     std::uint64_t local_size) {
  const std::uint32_t crc = convtape::detail::zip::crc32(data.data(), data.size());
  const std::string extra =
      form == LocalForm::zip64 ? le(1, 2) + le(16, 2) + le(local_size, 8) + le(local_size, 8) : "";
  const bool descriptor = form == LocalForm::descriptor;
  const std::uint64_t local = form == LocalForm::zip64 ? 0xffffffffu : descriptor ? 0 : data.size();
  std::string zip = "PK\x03\x04" + le(45, 2) + le(descriptor ? 8 : 0, 2) + le(0, 2) + le(0, 4) +
                    le(descriptor ? 0 : crc, 4) + le(local, 4) + le(local, 4) + le(name.size(), 2) +
                    le(extra.size(), 2) + name + extra + data;
  if (descriptor) zip += "PK\x07\x08" + le(crc, 4) + le(data.size(), 8) + le(data.size(), 8);
  const std::size_t directory = zip.size();
  zip += "PK\x01\x02" + le(45, 2) + le(45, 2) + le(descriptor ? 8 : 0, 2) + le(0, 2) + le(0, 4) +
         le(crc, 4) + le(data.size(), 4) + le(data.size(), 4) + le(name.size(), 2) +
         le(0, 6) +                        // extra and comment lengths, starting disk
         le(0, 2) + le(0, 4) + le(0, 4) +  // attributes, local header offset
         name;
  const std::size_t directory_size = zip.size() - directory;
  return zip + "PK\x05\x06" + le(0, 4) + le(1, 2) + le(1, 2) + le(directory_size, 4) +
         le(directory, 4) + le(0, 2);
}

TEST_CASE("load_npz reads each local header form Python's zipfile writes", "[io][npz]") {
  TempDir dir;
  const std::string path = dir.file("h.npz");
  const Tensor<double> t = counting<double>({1, 1, 2, 3});
  convtape::save_npy(dir.file("t.npy"), t);
  const std::string npy = read_bytes(dir.file("t.npy"));
  for (const LocalForm form : {LocalForm::sizes, LocalForm::zip64, LocalForm::descriptor}) {
    INFO("form " << static_cast<int>(form));
    write_bytes(path, hand_zip("t.npy", npy, form, npy.size()));
    const auto arrays = load_npz<double>(path);
    REQUIRE(arrays.size() == 1);
    CHECK(arrays[0].name == "t");
    CHECK(arrays[0].shape == std::vector<Index>{1, 1, 2, 3});
    CHECK(same_values(arrays[0].value, t));
  }
  // Sizes in the Zip64 field that contradict the directory are refused.
  write_bytes(path, hand_zip("t.npy", npy, LocalForm::zip64, npy.size() + 1));
  CHECK_THAT(error_message<io_error>([&] { load_npz<double>(path); }),
             Contains("entry 't.npy'") && Contains("sizes differ from the directory's"));
}

TEST_CASE("Every truncation of a valid .npz throws io_error", "[io][npz][errors]") {
  TempDir dir;
  const std::string path = dir.file("t.npz");
  save_npz<float>(
      path, {{"a", counting<float>({1, 1, 2, 3})}, {"b", counting<float>({1, 1, 1, 2}), {2}}});
  const std::string good = read_bytes(path);
  for (std::size_t length = 0; length < good.size(); ++length) {
    INFO("cut to " << length << " of " << good.size() << " bytes");
    write_bytes(path, good.substr(0, length));
    CHECK_THROWS_AS(load_npz<float>(path), io_error);
  }
}

TEST_CASE("Any one corrupt byte in a .npz throws or leaves the arrays exactly as saved",
          "[io][npz][errors]") {
  // The CRC-32 covers every data byte and the headers are cross-checked; a change to a field
  // that nothing reads (a time stamp, the creator's version) passes, with the same arrays.
  TempDir dir;
  const std::string path = dir.file("c.npz");
  const std::vector<NamedArray<float>> saved = {{"a", counting<float>({1, 1, 2, 3})},
                                                {"b", counting<float>({1, 1, 1, 2}, 1), {2}}};
  save_npz(path, saved);
  const std::string good = read_bytes(path);
  int passed = 0;
  for (std::size_t at = 0; at < good.size(); ++at) {
    INFO("byte " << at << " of " << good.size());
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x21);
    write_bytes(path, bad);
    try {
      const auto loaded = load_npz<float>(path);
      ++passed;
      REQUIRE(loaded.size() == 2);
      CHECK(loaded[0].name == "a");
      CHECK(loaded[1].name == "b");
      CHECK(loaded[1].shape == std::vector<Index>{2});
      CHECK(same_values(loaded[0].value, saved[0].value));
      CHECK(same_values(loaded[1].value, saved[1].value));
    } catch (const io_error&) {
    }
  }
  // Exactly the bytes of the fields nothing reads may change: per entry 8 in the local header
  // (version needed, flags, time, date) and 17 in the central one (version made by, version
  // needed, the flags' high byte (0x21 sets bit 0, "encrypted", in the low one), time, date,
  // starting disk, internal and external attributes).
  CHECK(passed == 2 * (8 + 17));
}

}  // namespace
